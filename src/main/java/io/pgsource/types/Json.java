package io.pgsource.types;

import java.util.Objects;

/**
 * The canonical value of a {@code json} or {@code jsonb}: its exact text as PostgreSQL printed it (json keeps the
 * input's whitespace, key order and duplicate keys; jsonb prints its normalized form). Equality is on the text.
 *
 * @param text valid JSON
 */
public record Json(String text) {
    public Json {
        Objects.requireNonNull(text, "text");
    }

    @Override
    public String toString() {
        return text;
    }
}
