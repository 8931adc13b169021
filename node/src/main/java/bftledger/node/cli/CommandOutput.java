package bftledger.node.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonSerializer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;

/**
 * How every command prints its result: text, or with {@code --json} one JSON object on one line
 * that starts with {@code "ok"}. Keys are snake_case everywhere, maps keep the order their fields
 * were put in, and a number that is not finite (NaN, an infinity) is written as {@code null}, so
 * the output is always valid JSON (see CommandOutputTest).
 */
final class CommandOutput {
    private static final ObjectMapper MAPPER = new ObjectMapper().registerModule(new SimpleModule()
            .addSerializer(Double.class, new FiniteOrNull<>())
            .addSerializer(Float.class, new FiniteOrNull<>()));

    private CommandOutput() {}

    static void print(CommandLine.Model.CommandSpec spec, boolean json, Map<String, Object> result, String text) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", true);
            m.putAll(result);
            out.println(toJson(m));
        } else {
            out.println(text);
        }
        out.flush();
    }

    static void printFailure(PrintWriter out, String message) {
        out.println(toJson(fields("ok", false, "error", message)));
        out.flush();
    }

    /** {@code value} as compact JSON. */
    static String toJson(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code value} as indented JSON, for text output that shows a structure. */
    static String toIndentedJson(Object value) {
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JSON object with its fields in the order given: key, value, key, value, ... */
    static Map<String, Object> fields(Object... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("fields come in key, value pairs");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    /** NaN and the infinities have no JSON form: written as null. */
    private static final class FiniteOrNull<T extends Number> extends JsonSerializer<T> {
        @Override
        public void serialize(T value, JsonGenerator gen, SerializerProvider serializers) throws IOException {
            double d = value.doubleValue();
            if (Double.isFinite(d)) {
                gen.writeNumber(d);
            } else {
                gen.writeNull();
            }
        }
    }
}
