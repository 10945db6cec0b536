package io.pgsource.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.pgsource.config.ReplicationMethod;
import java.util.List;
import org.junit.jupiter.api.Test;

class BookmarkTest {

    @Test
    void roundTripsExactTextValues() {
        Bookmark b = new Bookmark(ReplicationMethod.INCREMENTAL, List.of("Updated \"At\"", "ïd"),
                List.of("2024-01-01 00:00:00.123456+00", "a \"quoted\" \\ value\nwith newline ü"), false);

        String text = b.serialize();

        assertThat(Bookmark.parse(text)).isEqualTo(b);
        assertThat(text).startsWith("{\"method\":\"INCREMENTAL\"");
    }

    @Test
    void keylessAndCompletedBookmarks() {
        Bookmark b = new Bookmark(ReplicationMethod.FULL_TABLE, List.of(), List.of(), true);
        assertThat(Bookmark.parse(b.serialize())).isEqualTo(b);
        assertThat(b.hasPosition()).isFalse();
    }

    @Test
    void rejectsWhatIsNotABookmark() {
        assertThatThrownBy(() -> Bookmark.parse("0/16B3748")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bookmark.parse("{\"columns\":[]}")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Bookmark.parse("{\"method\":\"SOMETIMES\"}")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new Bookmark(ReplicationMethod.FULL_TABLE, List.of("a", "b"), List.of("1"), false))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
