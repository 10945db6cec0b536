package io.pgsource.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SizesTest {

    @Test
    void readsInUnitsOf1024WithOneDecimal() {
        assertThat(Sizes.human(0)).isEqualTo("0 bytes");
        assertThat(Sizes.human(1023)).isEqualTo("1023 bytes");
        assertThat(Sizes.human(1024)).isEqualTo("1.0 kB");
        assertThat(Sizes.human(442_368)).isEqualTo("432.0 kB");
        assertThat(Sizes.human(12_345_678)).isEqualTo("11.8 MB");
        assertThat(Sizes.human(3L << 30)).isEqualTo("3.0 GB");
    }
}
