package bftledger.node.cli;

/** A mistake the user can fix: printed as one line without a stack trace, exit code 1. */
final class UserError extends Exception {
    UserError(String message) {
        super(message);
    }
}
