package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Transfer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommandOutputTest {
    private static final ObjectMapper STRICT = new ObjectMapper();

    @Test
    void numbersWithoutAJsonFormAreWrittenAsNull() throws Exception {
        String json = CommandOutput.toJson(CommandOutput.fields("nan", Double.NaN, "inf", Double.POSITIVE_INFINITY,
                "neg", Float.NEGATIVE_INFINITY, "finite", 2.5));
        JsonNode tree = STRICT.readTree(json); // a strict parser: NaN or Infinity would not parse
        assertTrue(tree.get("nan").isNull(), json);
        assertTrue(tree.get("inf").isNull(), json);
        assertTrue(tree.get("neg").isNull(), json);
        assertEquals(2.5, tree.get("finite").asDouble(), json);
    }

    @Test
    void fieldsKeepTheirOrderAndStringsAreEscaped() throws Exception {
        String json = CommandOutput.toJson(CommandOutput.fields("z", 1, "a", "quote \" newline \n tab \t \u0001", "m", List.of()));
        assertTrue(json.startsWith("{\"z\":1,\"a\":"), json);
        assertEquals("quote \" newline \n tab \t \u0001", STRICT.readTree(json).get("a").asText());
    }

    @Test
    void aTransactionBodyIsAnObjectWithSnakeCaseNamesHexBytesAndNumbers() throws Exception {
        KeyPair sender = KeyPair.generate();
        byte[] to = new byte[32];
        to[0] = (byte) 0xab;
        TransactionBody transfer = TransactionBody.newBuilder().setChainId("c").setSender(ByteString.copyFrom(sender.publicKey().bytes()))
                .setNonce(-1L).setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(to)).setAmount(7)).build();
        JsonNode body = STRICT.readTree(CommandOutput.toJson(ProtoJson.object(transfer)));
        assertEquals("c", body.get("chain_id").asText());
        assertEquals(sender.publicKey().hex(), body.get("sender").asText());
        assertTrue(body.get("nonce").isNumber(), "a uint64 is a number, not a string: " + body);
        assertEquals("18446744073709551615", body.get("nonce").bigIntegerValue().toString(), "uint64 read unsigned");
        assertEquals(HexFormat.of().formatHex(to), body.get("transfer").get("to").asText());
        assertEquals(7, body.get("transfer").get("amount").asLong());
        assertFalse(body.has("put_record"), "only the set operation appears");

        TransactionBody put = transfer.toBuilder().setPutRecord(PutRecord.newBuilder().setKey("k")
                .setValue(ByteString.copyFromUtf8("v"))).build();
        JsonNode putBody = STRICT.readTree(CommandOutput.toJson(ProtoJson.object(put)));
        assertEquals("k", putBody.get("put_record").get("key").asText());
        assertEquals("76", putBody.get("put_record").get("value").asText());
    }
}
