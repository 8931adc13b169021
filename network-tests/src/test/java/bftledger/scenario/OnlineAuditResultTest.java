package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class OnlineAuditResultTest {
    @Test
    void readsTheVerdictFromTheLastJsonLine() {
        String printed = "some log line\n{\"ok\":true,\"passed\":false,\"nodes\":[{\"culprits\":[9]}],\"culprits\":[0,3]}\n";
        OnlineAuditResult r = OnlineAuditResult.parse(1, printed);
        assertFalse(r.passed());
        assertEquals(List.of(0, 3), r.culprits(), "the top-level culprits, not a nested field of the same name");
        assertEquals(1, r.exitCode());
        assertTrue(OnlineAuditResult.parse(0, "{\"passed\":true,\"culprits\":[]}").passed());
    }

    @Test
    void printedWithoutAVerdictIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> OnlineAuditResult.parse(1, "error: no network\n"));
        assertThrows(IllegalArgumentException.class, () -> OnlineAuditResult.parse(1, "{\"ok\":false,\"error\":\"x\"}"));
        assertThrows(IllegalArgumentException.class, () -> OnlineAuditResult.parse(1, "{\"passed\":true,"));
    }
}
