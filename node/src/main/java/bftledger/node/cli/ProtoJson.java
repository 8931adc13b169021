package bftledger.node.cli;

import com.google.protobuf.ByteString;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A protobuf message as a JSON-ready object in the CLI's one encoding: the .proto's own
 * snake_case field names, bytes as lowercase hex (as keys and hashes are written everywhere
 * else), 64-bit integers as numbers, enums by name. Only fields that are set appear. Protobuf's
 * own JSON printer would write camelCase names, base64 bytes and 64-bit integers as strings.
 */
final class ProtoJson {
    private ProtoJson() {}

    static Map<String, Object> object(Message message) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (Map.Entry<FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
            FieldDescriptor field = e.getKey();
            if (field.isRepeated()) {
                List<Object> values = new ArrayList<>();
                for (Object v : (List<?>) e.getValue()) {
                    values.add(value(field, v));
                }
                m.put(field.getName(), values);
            } else {
                m.put(field.getName(), value(field, e.getValue()));
            }
        }
        return m;
    }

    private static Object value(FieldDescriptor field, Object v) {
        return switch (field.getJavaType()) {
            case MESSAGE -> object((Message) v);
            case BYTE_STRING -> HexFormat.of().formatHex(((ByteString) v).toByteArray());
            case ENUM -> ((EnumValueDescriptor) v).getName();
            case LONG -> unsigned(field) && (Long) v < 0 ? new BigInteger(Long.toUnsignedString((Long) v)) : v;
            case INT -> unsigned(field) && (Integer) v < 0 ? Integer.toUnsignedLong((Integer) v) : v;
            default -> v;
        };
    }

    private static boolean unsigned(FieldDescriptor field) {
        return switch (field.getType()) {
            case UINT32, UINT64, FIXED32, FIXED64 -> true;
            default -> false;
        };
    }
}
