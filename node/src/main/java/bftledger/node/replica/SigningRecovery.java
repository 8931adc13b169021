package bftledger.node.replica;

import bftledger.ledger.StoreCorruptedException;
import bftledger.node.config.ConfigException;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.SigningFloor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.lmdbjava.LmdbException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a node does at start with its consensus WAL and its {@link SigningMark}, so that a
 * replica never signs a second, conflicting vote after its WAL was lost, emptied, truncated,
 * damaged or replaced by an older copy (restoring a backup of the data directory is that case).
 *
 * <p>The argument. The WAL holds every message the replica signed before it was sent (persist
 * before send); the mark, kept outside the data directory, holds the WAL's identity and the
 * position it reached (the position at least as far as the last append the process saw) and a
 * durable ceiling over everything signed. A WAL with the mark's identity at or past its position
 * holds everything the replica sent, so restoring from it keeps every vote as before
 * ({@link Decision.Resume}). Any other WAL (another identity: lost, emptied or made again; a lower
 * position: an older copy; damage, including a truncated file and a record whose checksum fails)
 * may lack votes the replica sent. Such a node refuses to start and says why
 * ({@link Decision.Refuse}), unless the operator asked for {@code rejoin.non.voting}: then the WAL
 * is set aside and the replica restarts under the ceiling as its {@link SigningFloor}, signing
 * nothing it could have signed before ({@link Decision.RejoinNonVoting}). Without a mark (a node
 * from before marks existed, or a new node) the WAL is adopted as the truth when it has records
 * or when the block store is empty; a replica with blocks, no WAL records and no mark cannot tell
 * what it signed and refuses (see SigningRecoveryTest).
 *
 * <p>Not covered: a machine crash that loses the mark's latest unsynced positions, together with
 * a data directory restored from a copy taken in those last moments; and a key restored with a
 * fresh data directory and no mark (docs/storage-faults.md).
 */
public final class SigningRecovery {
    private static final Logger log = LoggerFactory.getLogger(SigningRecovery.class);

    private SigningRecovery() {}

    /** The WAL as found at start: its identity and position, or what is wrong with it. */
    public record WalFound(byte[] identity, long position, String damage) {
        public static WalFound damaged(String damage) {
            return new WalFound(null, -1, damage);
        }

        /** No WAL file at all (never made here, or deleted). */
        static WalFound missing() {
            return new WalFound(null, 0, null);
        }

        boolean isDamaged() {
            return damage != null;
        }

        String identityHex() {
            return identity == null ? "none" : HexFormat.of().formatHex(identity);
        }
    }

    /** What start does. */
    public sealed interface Decision permits Decision.Resume, Decision.Create, Decision.RejoinNonVoting, Decision.Refuse {
        /** The WAL is this replica's latest: restore from it, under the mark's floor (if it ever rejoined). */
        record Resume(SigningFloor floor) implements Decision {}

        /** No mark yet: make one for this WAL ({@code adopted}: the WAL has records from before). */
        record Create(boolean adopted) implements Decision {}

        /** Set the WAL aside and restart under {@code floor}. */
        record RejoinNonVoting(String why, SigningFloor floor) implements Decision {}

        /** Do not start; {@code why} says what happened and what to do. */
        record Refuse(String why) implements Decision {}
    }

    /** The decision, from what was found; the paths only go into the messages. */
    public static Decision decide(Optional<SigningMark.State> mark, WalFound wal, long storeHeight, boolean rejoinNonVoting,
                           Path walDir, Path markFile) {
        if (mark.isEmpty()) {
            if (wal.isDamaged()) {
                return new Decision.Refuse("the consensus WAL in " + walDir + " is damaged (" + wal.damage() + ") and there is"
                        + " no signing mark at " + markFile + " to bound what this replica signed. Nothing was changed. Restore"
                        + " the WAL of this node's latest run; the replica cannot safely vote with this key otherwise.");
            }
            if (wal.position() > 0 || storeHeight == 0) {
                return new Decision.Create(wal.position() > 0);
            }
            return new Decision.Refuse("there is no signing mark at " + markFile + " and the consensus WAL in " + walDir
                    + " is empty, yet the block store holds " + storeHeight + " blocks: this replica ran before and its record"
                    + " of what it signed is gone, so it could sign a second, conflicting vote. Nothing was changed. Restore"
                    + " the mark (it lives beside the node key unless signing.mark.file says otherwise) and start with"
                    + " rejoin.non.voting=true, or restore the WAL of this node's latest run.");
        }
        SigningMark.State m = mark.get();
        String problem;
        if (wal.isDamaged()) {
            problem = "the consensus WAL in " + walDir + " is damaged (" + wal.damage() + ")";
        } else if (!m.sameWal(wal.identity())) {
            problem = "the consensus WAL in " + walDir + " is not the one this replica wrote: the signing mark " + markFile
                    + " names WAL " + m.walIdentityHex() + ", the directory holds " + (wal.identity() == null ? "no WAL"
                    : "WAL " + wal.identityHex() + " with " + wal.position() + " appends") + " (the WAL was lost, emptied or"
                    + " replaced)";
        } else if (wal.position() < m.walPosition()) {
            problem = "the consensus WAL in " + walDir + " is older than this replica's last run: the signing mark " + markFile
                    + " saw it at position " + m.walPosition() + ", it is at " + wal.position()
                    + " (restored from an older copy, or appends were lost)";
        } else {
            return new Decision.Resume(m.floor());
        }
        SigningFloor floor = maxFloor(m.floor(), m.ceiling().asFloor());
        String bound = "view " + floor.view() + " and sequence " + floor.sequence();
        if (rejoinNonVoting) {
            return new Decision.RejoinNonVoting(problem, floor);
        }
        return new Decision.Refuse(problem + ". This replica no longer knows everything it signed; started as it is, it"
                + " could sign a second, conflicting vote. Nothing was changed. Keep a copy of " + walDir + "; then either"
                + " restore the WAL of this node's latest run, or start the node with rejoin.non.voting=true in its node"
                + " config: it sets the WAL aside and takes part without voting until the network is past " + bound
                + " (the most it may have signed), then votes again by itself.");
    }

    private static SigningFloor maxFloor(SigningFloor a, SigningFloor b) {
        return new SigningFloor(Math.max(a.view(), b.view()), Math.max(a.sequence(), b.sequence()));
    }

    /** What start hands on: the WAL to append to, its records, the mark, and the floor to restore the core under. */
    record Started(ConsensusWal wal, List<PersistRecord> records, SigningMark mark, SigningFloor floor) {}

    /**
     * Opens the mark and the WAL, decides, and carries the decision out.
     *
     * @param sequenceMargin the ceiling's lead over the highest signed sequence (a watermark window)
     * @throws ConfigException when the node must not start; the message says why and what to do
     */
    static Started start(Path walDir, Path markFile, PersistCodec codec, long mapSizeBytes, long storeHeight,
                         boolean rejoinNonVoting, long sequenceMargin) throws ConfigException {
        Optional<SigningMark> mark;
        try {
            mark = SigningMark.open(markFile);
        } catch (StoreCorruptedException e) {
            throw new ConfigException(e.getMessage() + ". Nothing was changed. Restore it from a backup: without it the node"
                    + " cannot tell whether the WAL in " + walDir + " is its latest. Only if you are sure it is, move the"
                    + " damaged mark away; the node then makes a new one from that WAL.", e);
        }
        ConsensusWal wal = null;
        List<PersistRecord> records = List.of();
        WalFound found;
        try {
            if (mark.isPresent() && !Files.exists(walDir.resolve("data.mdb"))) {
                // Not made here: a refusal changes nothing on disk.
                throw new MissingWal();
            }
            wal = ConsensusWal.open(walDir, codec, mapSizeBytes);
            records = wal.readAll();
            found = new WalFound(wal.identity(), wal.position(), null);
        } catch (MissingWal e) {
            found = WalFound.missing();
        } catch (StoreCorruptedException | LmdbException e) {
            if (wal != null) {
                wal.close();
                wal = null;
            }
            found = WalFound.damaged(e.getMessage());
        }
        Decision decision = decide(mark.map(SigningMark::state), found, storeHeight, rejoinNonVoting, walDir, markFile);
        try {
            return carryOut(decision, walDir, markFile, codec, mapSizeBytes, mark, wal, records, sequenceMargin);
        } catch (ConfigException | RuntimeException e) {
            if (wal != null) {
                wal.close();
            }
            mark.ifPresent(SigningMark::close);
            throw e;
        }
    }

    private static final class MissingWal extends Exception {
        MissingWal() {
            super(null, null, false, false);
        }
    }

    private static Started carryOut(Decision decision, Path walDir, Path markFile, PersistCodec codec, long mapSizeBytes,
                                    Optional<SigningMark> mark, ConsensusWal wal, List<PersistRecord> records,
                                    long sequenceMargin) throws ConfigException {
        if (decision instanceof Decision.Refuse refuse) {
            throw new ConfigException(refuse.why());
        }
        if (decision instanceof Decision.Resume resume) {
            SigningMark m = mark.orElseThrow();
            SigningMark.State s = m.state();
            // The WAL may hold records the ceiling does not cover yet (a crash between the two writes): nothing of
            // them was sent, but from now on they count as signed.
            m.write(new SigningMark.State(s.walIdentity(), wal.position(), s.ceiling().cover(records, sequenceMargin),
                    s.floor()), true);
            return new Started(wal, records, m, resume.floor());
        }
        if (decision instanceof Decision.Create create) {
            SigningMark.State initial = new SigningMark.State(wal.identity(), wal.position(),
                    SigningCeiling.NONE.cover(records, sequenceMargin), SigningFloor.NONE);
            SigningMark created;
            try {
                created = SigningMark.create(markFile, initial);
            } catch (UncheckedIOException e) {
                throw new ConfigException(e.getMessage() + ". The node keeps its signing mark outside its data directory"
                        + " (beside its key unless signing.mark.file in the node config names another writable path).", e);
            }
            if (create.adopted()) {
                log.warn("event=signing-mark-created file={} from=wal wal-records={} state=\"{}\"", markFile, records.size(),
                        initial);
            } else {
                log.info("event=signing-mark-created file={} state=\"{}\"", markFile, initial);
            }
            return new Started(wal, records, created, SigningFloor.NONE);
        }
        Decision.RejoinNonVoting rejoin = (Decision.RejoinNonVoting) decision;
        if (wal != null) {
            wal.close();
        }
        Path aside = walDir.resolveSibling(walDir.getFileName() + ".set-aside-" + System.currentTimeMillis());
        try {
            if (Files.exists(walDir)) {
                Files.move(walDir, aside);
            }
        } catch (IOException e) {
            throw new ConfigException("cannot set the consensus WAL " + walDir + " aside to " + aside + ": " + e.getMessage(), e);
        }
        ConsensusWal fresh = ConsensusWal.open(walDir, codec, mapSizeBytes);
        SigningMark m = mark.orElseThrow();
        m.write(new SigningMark.State(fresh.identity(), fresh.position(), m.state().ceiling(), rejoin.floor()), true);
        log.warn("event=non-voting reason=\"{}\" wal-set-aside={} floor-view={} floor-sequence={}", rejoin.why(), aside,
                rejoin.floor().view(), rejoin.floor().sequence());
        return new Started(fresh, List.of(), m, rejoin.floor());
    }
}
