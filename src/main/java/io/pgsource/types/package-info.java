/**
 * PostgreSQL values: text form ⇄ one canonical Java value per type ⇄ exact JSON.
 *
 * <p>Every source value arrives as PostgreSQL's text output under {@link io.pgsource.types.SessionSettings}
 * (DateStyle=ISO, IntervalStyle=iso_8601, TimeZone=UTC, extra_float_digits=3, bytea_output=hex, lc_monetary=C):
 * from {@code ResultSet.getString} with {@code binaryTransfer=false} in the batch query, and from pgoutput in text
 * mode. {@link io.pgsource.types.TypeRegistry} gives the {@link io.pgsource.types.ValueDecoder} of each type OID,
 * which turns that text into the canonical value below, so a row read either way is {@code equals}.
 * {@link io.pgsource.types.PgText#format} turns a canonical value back into PostgreSQL input text, and
 * {@link io.pgsource.types.JsonValues#write} into JSON.
 *
 * <p>pgoutput's binary mode ({@code binary=true}) sends the types' send-function bytes instead;
 * {@link io.pgsource.types.TypeRegistry#binaryDecoder} decodes them into exactly the same canonical values (proved
 * type by type against text mode). Types without an exact binary decoder (geometric, ranges, composites, tsvector,
 * tsquery, other extension types) fail with {@link io.pgsource.types.UnsupportedBinaryTypeException}: use text mode.
 *
 * <h2>Canonical values</h2>
 * <table>
 * <caption>PostgreSQL type → canonical Java value</caption>
 * <tr><th>PostgreSQL type</th><th>Java value</th><th>Notes</th></tr>
 * <tr><td>smallint, integer, bigint</td><td>Short, Integer, Long</td><td></td></tr>
 * <tr><td>oid, xid, cid</td><td>Long</td><td>unsigned 32-bit</td></tr>
 * <tr><td>real, double precision</td><td>Float, Double</td><td>NaN, ±Infinity as the Java specials; -0 kept;
 *     the shortest exact text (extra_float_digits=3) round-trips bit for bit</td></tr>
 * <tr><td>numeric</td><td>BigDecimal, or {@link io.pgsource.types.Special}</td><td>any precision, the scale as
 *     printed ({@code 1.50} has scale 2, so {@code 1.50} and {@code 1.5} differ); NaN, ±Infinity → Special</td></tr>
 * <tr><td>money</td><td>BigDecimal</td><td>{@code -$1,234.56} → -1234.56 (scale as printed, 2 under lc_monetary=C)</td></tr>
 * <tr><td>boolean</td><td>Boolean</td><td></td></tr>
 * <tr><td>text, varchar, char(n), name, "char", citext, xml, enums</td><td>String</td><td>char(n) keeps its
 *     padding as printed</td></tr>
 * <tr><td>bytea</td><td>{@link io.pgsource.types.Bytes}</td><td>immutable, content equality</td></tr>
 * <tr><td>uuid</td><td>UUID</td><td></td></tr>
 * <tr><td>json, jsonb</td><td>{@link io.pgsource.types.Json}</td><td>the exact text; equality on the text</td></tr>
 * <tr><td>date</td><td>LocalDate, or Special</td><td>proleptic ISO years: {@code 0044-03-15 BC} is year -43;
 *     ±infinity → Special</td></tr>
 * <tr><td>time</td><td>LocalTime</td><td>{@code 24:00:00} is {@code LocalTime.MAX} (23:59:59.999999999, which
 *     PostgreSQL's microsecond times never produce otherwise)</td></tr>
 * <tr><td>timetz</td><td>OffsetTime</td><td>offset as printed, seconds included ({@code +00:53:28});
 *     {@code 24:00:00} as for time</td></tr>
 * <tr><td>timestamp</td><td>LocalDateTime, or Special</td><td>BC as for date, microseconds</td></tr>
 * <tr><td>timestamptz</td><td>OffsetDateTime at UTC, or Special</td><td>any printed offset is parsed, then the
 *     instant is normalized to offset Z</td></tr>
 * <tr><td>interval</td><td>{@link io.pgsource.types.Interval}, or Special (PostgreSQL 17 ±infinity)</td><td>months,
 *     days, microseconds as stored, not normalized into each other; toString is ISO 8601 as PostgreSQL prints it</td></tr>
 * <tr><td>hstore</td><td>Map&lt;String,String&gt;</td><td>unmodifiable, printed order, null values allowed</td></tr>
 * <tr><td>arrays of any type</td><td>{@link io.pgsource.types.PgArray} (a List)</td><td>elements decoded as their
 *     type; nested lists for more dimensions; null elements; non-default lower bounds ({@code [0:2]={...}}) and
 *     the delimiter ({@code ;} for box) are kept on the PgArray for formatting back, but List equality ignores them</td></tr>
 * <tr><td>domains</td><td>the value of the base type</td><td>domains over domains and over arrays too</td></tr>
 * <tr><td>inet, cidr, macaddr, macaddr8, bit, varbit, tsvector, tsquery, point, line, lseg, box, path, polygon,
 *     circle, ranges, multiranges, composite types, pg_lsn, int2vector, oidvector, xid8, reg* types, and every other
 *     or unknown type</td><td>String</td><td>the text form; an unknown type never fails</td></tr>
 * </table>
 *
 * <h2>JSON form ({@link io.pgsource.types.JsonValues})</h2>
 * <table>
 * <caption>Canonical value → JSON</caption>
 * <tr><th>Value</th><th>JSON</th><th>Example</th></tr>
 * <tr><td>null</td><td>null</td><td>{@code null}</td></tr>
 * <tr><td>Short, Integer, Long</td><td>number</td><td>{@code -9223372036854775808}</td></tr>
 * <tr><td>BigDecimal (numeric, money)</td><td>number, every digit, scale kept, never an exponent</td>
 *     <td>{@code 1.50}, {@code 0.00000000000000000001}</td></tr>
 * <tr><td>Float, Double</td><td>number (Java's shortest exact form); NaN and ±Infinity as strings</td>
 *     <td>{@code 0.1}, {@code 1.0E-310}, {@code "NaN"}, {@code "-Infinity"}</td></tr>
 * <tr><td>Special</td><td>string</td><td>{@code "NaN"}, {@code "Infinity"}, {@code "-Infinity"}</td></tr>
 * <tr><td>Boolean</td><td>true / false</td><td></td></tr>
 * <tr><td>Bytes</td><td>string, standard base64 with padding</td><td>{@code "AP8="}</td></tr>
 * <tr><td>Json</td><td>the JSON itself, embedded raw (newlines outside strings become spaces)</td>
 *     <td>{@code {"a": [1, 2.50]}}</td></tr>
 * <tr><td>LocalDate</td><td>string, ISO 8601 astronomical years</td><td>{@code "2024-02-29"}, {@code "-0043-03-15"},
 *     {@code "+10000-01-01"}</td></tr>
 * <tr><td>LocalTime</td><td>string, seconds always, fraction without trailing zeros</td>
 *     <td>{@code "10:15:00"}, {@code "10:15:00.000001"}, {@code "24:00:00"}</td></tr>
 * <tr><td>OffsetTime</td><td>string</td><td>{@code "12:00:00+00:53:28"}, {@code "12:00:00Z"}</td></tr>
 * <tr><td>LocalDateTime</td><td>string</td><td>{@code "-0043-03-15T12:00:00.5"}</td></tr>
 * <tr><td>OffsetDateTime (timestamptz)</td><td>string, offset {@code Z}</td><td>{@code "2024-01-01T06:30:00.123456Z"}</td></tr>
 * <tr><td>Interval</td><td>string, ISO 8601 as PostgreSQL prints it</td><td>{@code "P1Y2M3DT4H5M6.789S"}, {@code "PT0S"}</td></tr>
 * <tr><td>UUID</td><td>string</td><td>{@code "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}</td></tr>
 * <tr><td>Map (hstore)</td><td>object of strings and nulls, in order</td><td>{@code {"b":"1","a":null}}</td></tr>
 * <tr><td>List (arrays)</td><td>array, nested for more dimensions (lower bounds dropped)</td><td>{@code [[1,2],[null,4]]}</td></tr>
 * <tr><td>String and everything else</td><td>string</td><td>{@code "192.168.0.1/24"}</td></tr>
 * </table>
 *
 * <h2>PostgreSQL input form ({@link io.pgsource.types.PgText})</h2>
 * The inverse of decoding, valid whatever the target session's DateStyle, IntervalStyle and TimeZone: BigDecimal
 * plain, floats as Java prints them ({@code NaN}, {@code Infinity}), Special as {@code NaN}/{@code Infinity}/
 * {@code -Infinity} (PostgreSQL reads those for numeric, float, date, timestamp and interval), BC dates as
 * {@code 0044-03-15 BC}, offsets always explicit, Bytes as {@code \x..}, Interval ISO, hstore as
 * {@code "k"=>"v", "n"=>NULL}, arrays as {@code {...}} with array_out's quoting rules, {@code NULL}, the kept lower
 * bounds and delimiter. {@link io.pgsource.types.PgText#copyEscape} makes a field of COPY's text format.
 */
package io.pgsource.types;
