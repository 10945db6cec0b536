package io.pgsource.sink.jdbc;

import static io.pgsource.sink.jdbc.ColumnTypes.Fit.HOLDS;
import static io.pgsource.sink.jdbc.ColumnTypes.Fit.INCOMPATIBLE;
import static io.pgsource.sink.jdbc.ColumnTypes.Fit.WIDEN;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class ColumnTypesTest {

    @Test
    void widenings() {
        assertThat(ColumnTypes.fit("smallint", "integer")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("integer", "bigint")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("smallint", "bigint")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("bigint", "numeric")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("numeric(5,2)", "numeric(9,3)")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("numeric(5,2)", "numeric")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("numeric(5)", "numeric(6,1)")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("character varying(5)", "character varying(12)")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("character varying(5)", "character varying")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("character varying(5)", "text")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("real", "double precision")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("timestamp(3) with time zone", "timestamp with time zone")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("integer[]", "bigint[]")).isEqualTo(WIDEN);
        assertThat(ColumnTypes.fit("character varying(3)[]", "text[]")).isEqualTo(WIDEN);
    }

    @Test
    void theDestinationAlreadyHoldsTheSameOrANarrowerType() {
        assertThat(ColumnTypes.fit("integer", "integer")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("bigint", "integer")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("text", "character varying(20)")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("character varying(10)", "character varying(3)")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("numeric", "numeric(12,2)")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("ext.citext", "citext")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("public.hstore", "hstore")).isEqualTo(HOLDS);
    }

    @Test
    void everythingElseIsIncompatible() {
        assertThat(ColumnTypes.fit("integer", "text")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("text", "integer")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("numeric(5,2)", "numeric(5,3)")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("numeric(5,2)", "numeric(6,0)")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("numeric", "bigint")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("bigint", "numeric(10,2)")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("timestamp without time zone", "timestamp with time zone")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("character(5)", "character(8)")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("integer", "integer[]")).isEqualTo(INCOMPATIBLE);
        assertThat(ColumnTypes.fit("double precision", "real")).isEqualTo(HOLDS);
        assertThat(ColumnTypes.fit("json", "jsonb")).isEqualTo(INCOMPATIBLE);
    }
}
