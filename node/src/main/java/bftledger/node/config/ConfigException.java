package bftledger.node.config;

/**
 * A problem an operator can fix (bad config, missing key, port in use, damaged store). The
 * message says what is wrong and what to do; the CLI prints it without a stack trace.
 */
public class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
