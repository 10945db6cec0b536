package io.pgsource.sink.mysql;

import static io.pgsource.sink.TestChanges.col;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.sink.mysql.MySqlTypes.Kind;
import io.pgsource.types.Special;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The type mapping, the forms values are bound in, the widenings followed, and the URLs the driver is given (no server). */
class MySqlTypesTest {

    @Test
    void numericFitsDecimalUpTo65DigitsAnd30DecimalsElseText() {
        assertThat(MySqlTypes.columnType(col("n", "numeric(65,30)"), 0)).isEqualTo("DECIMAL(65,30)");
        assertThat(MySqlTypes.columnType(col("n", "numeric(66,0)"), 0)).isEqualTo("LONGTEXT");
        assertThat(MySqlTypes.columnType(col("n", "numeric(40,31)"), 0)).isEqualTo("LONGTEXT");
        assertThat(MySqlTypes.columnType(col("n", "numeric"), 0)).isEqualTo("LONGTEXT");
        assertThat(MySqlTypes.columnType(col("n", "numeric"), 384)).as("in a key").isEqualTo("VARCHAR(384)");
        assertThat(MySqlTypes.columnType(col("n", "numeric(5,-2)"), 0)).isEqualTo("LONGTEXT");
        assertThat(MySqlTypes.columnType(col("a", "timestamp(3) with time zone[]"), 0)).isEqualTo("LONGTEXT");
        assertThat(MySqlTypes.columnType(col("t", "timestamp(3) with time zone"), 0)).isEqualTo("DATETIME(6)");
        assertThat(MySqlTypes.columnType(col("c", "character(3)"), 0)).isEqualTo("VARCHAR(3)");
        assertThat(MySqlTypes.columnType(col("d", "public.positive", "integer"), 0)).as("a domain: its base type").isEqualTo("INT");
    }

    @Test
    void valuesTakeTheFormOfTheirColumnAndWhatItCannotHoldIsRefused() {
        assertThat(MySqlTypes.value(OffsetDateTime.of(2024, 1, 1, 1, 0, 0, 0, ZoneOffset.ofHours(3)), Kind.DATETIME, "`t`", "c"))
                .isEqualTo("2023-12-31 22:00:00");
        assertThat(MySqlTypes.value(OffsetDateTime.of(2024, 1, 1, 1, 0, 0, 0, ZoneOffset.ofHours(3)), Kind.TEXT, "`t`", "c"))
                .as("a text column: PostgreSQL's text form").isEqualTo("2024-01-01 01:00:00+03:00");
        assertThat(MySqlTypes.value(Special.INFINITY, Kind.DATE, "`t`", "c")).isEqualTo("9999-12-31");
        assertThat(MySqlTypes.value(Special.NEGATIVE_INFINITY, Kind.DATETIME, "`t`", "c")).isEqualTo("0001-01-01 00:00:00");
        assertThat(MySqlTypes.value(Special.NAN, Kind.TEXT, "`t`", "c")).isEqualTo("NaN");
        assertThat(MySqlTypes.value(new BigDecimal("1E+3"), Kind.DECIMAL, "`t`", "c")).isEqualTo("1000");
        assertThat(MySqlTypes.value(true, Kind.BOOLEAN, "`t`", "c")).isEqualTo(1);
        assertThatThrownBy(() -> MySqlTypes.value(LocalDateTime.of(10_000, 1, 1, 0, 0), Kind.DATETIME, "`t`", "c"))
                .isInstanceOf(ValueNotHeldException.class).hasMessageStartingWith("column `t`.`c` received the value 10000-01-01 00:00:00").hasMessageContaining("ALTER TABLE `t` MODIFY `c` VARCHAR(64)");
        assertThatThrownBy(() -> MySqlTypes.value(LocalDate.of(0, 1, 1), Kind.DATE, "`t`", "c")).hasMessageContaining("0001-01-01 BC");
        assertThatThrownBy(() -> MySqlTypes.value(Special.NAN, Kind.DECIMAL, "`t`", "c")).hasMessageContaining("NaN");
        assertThatThrownBy(() -> MySqlTypes.value(Float.NEGATIVE_INFINITY, Kind.FLOAT, "`t`", "c")).hasMessageContaining("-Infinity");
    }

    @Test
    void onlyLosslessWideningsAreFollowed() {
        assertThat(MySqlTypes.widens("int(11)", "BIGINT")).isTrue();
        assertThat(MySqlTypes.widens("bigint(20)", "INT")).isFalse();
        assertThat(MySqlTypes.widens("decimal(8,2)", "DECIMAL(12,2)")).isTrue();
        assertThat(MySqlTypes.widens("decimal(8,2)", "DECIMAL(12,1)")).isFalse();
        assertThat(MySqlTypes.widens("decimal(8,2)", "DECIMAL(8,2)")).isFalse();
        assertThat(MySqlTypes.widens("varchar(20)", "VARCHAR(40)")).isTrue();
        assertThat(MySqlTypes.widens("varchar(20)", "LONGTEXT")).isTrue();
        assertThat(MySqlTypes.widens("longtext", "VARCHAR(40)")).isFalse();
        assertThat(MySqlTypes.widens("float", "DOUBLE")).isTrue();
        assertThat(MySqlTypes.widens("varchar(64)", "DATE")).as("a column the user made text stays text").isFalse();
    }

    @Test
    void jdbcMysqlUrlsAreGivenToMariaDbsDriverAndSecretsStayOutOfMessages() {
        assertThat(MySqlConnection.driverUrl("jdbc:mysql://h:3306/db")).isEqualTo("jdbc:mysql://h:3306/db?permitMysqlScheme");
        assertThat(MySqlConnection.driverUrl("jdbc:mysql://h/db?useSSL=true")).isEqualTo("jdbc:mysql://h/db?useSSL=true&permitMysqlScheme");
        assertThat(MySqlConnection.driverUrl("jdbc:mariadb://h/db")).isEqualTo("jdbc:mariadb://h/db");
        assertThat(MySqlConnection.safeUrl("jdbc:mariadb://h/db?user=u&password=hunter2")).doesNotContain("hunter2");
        assertThatThrownBy(() -> MySqlConnection.driverUrl("jdbc:postgresql://h/db?password=hunter2"))
                .hasMessageNotContaining("hunter2").hasMessageContaining("jdbc:mysql://host:3306/database");
    }
}
