package io.pgsource.sink.endpoint;

import io.pgsource.change.ChangeBatch;
import io.pgsource.change.ChangeEvent;
import io.pgsource.change.ChangeHeaders;
import io.pgsource.change.Op;
import io.pgsource.change.Position;
import io.pgsource.config.ConfigurationException;
import io.pgsource.config.DestinationSettings;
import io.pgsource.sink.Destination;
import io.pgsource.sink.DestinationContext;
import io.pgsource.sink.StoredPosition;
import io.pgsource.sink.json.ChangeEnvelope;
import io.pgsource.state.FilePositionStore;
import io.pgsource.state.PositionStore;
import io.pgsource.state.Positions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePattern;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.support.DefaultExchange;
import org.apache.camel.util.URISupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code endpoint} destination: every change as one message to {@code destination.uri}, any Camel endpoint URI, in
 * which {@code ${schema}} and {@code ${table}} (or any of Camel's simple language, e.g. {@code ${header.PgSourceOp}})
 * choose the endpoint per message. The route file {@code routes/destinations/endpoint.camel.yaml} sends each message with
 * {@code toD} from {@value #SEND_URI}, so users can add steps there.
 *
 * <p>Body: the JSON envelope in {@code destination.format}: {@code pgsource} (the envelope of jsonl, {@link ChangeEnvelope})
 * or {@code debezium} ({@link ChangeEnvelope#toDebeziumJson}). Headers: {@value #OP}, {@value #SCHEMA}, {@value #TABLE},
 * {@value #KEY} (the primary key as JSON, Debezium's key payload; absent for keyless tables), {@value #LSN} (the LSN of
 * the transaction's commit record, {@code X/X}), {@value #TX_ID}, and {@value #POSITION}: where the change stands in the stream, to drop repeats.
 *
 * <p><b>At-least-once.</b> A batch's messages go out on {@code destination.endpoint.lanes} lanes side by side (default
 * {@value #DEFAULT_LANES}): a message's lane follows from its table and key, so the changes of one key keep their order;
 * each lane sends synchronously, one message after the other, each send returning once the endpoint confirmed it (for
 * NATS: a JetStream publish acknowledgement, {@code jetstreamEnabled=true}; for RabbitMQ: a publisher confirm,
 * {@code confirm=enabled}). A truncate and an update that changes a row's key go alone, once everything before them is
 * confirmed and before anything after them is sent. The first failed send fails the batch: no send starts after it,
 * and the ones on their way are awaited. Only when every message of a batch is confirmed is its position stored (in
 * {@value #POSITIONS_FILE} in {@code destination.directory}, written as jsonl's {@link FilePositionStore}) and the slot
 * acknowledged. A crash or a failure in the middle of a batch sends the batch's messages again from its first; messages
 * of different keys may arrive out of the source's order, so consumers drop repeats by {@value #POSITION} per key.
 */
public final class EndpointSink implements Destination {
    /** The value of {@code destination} that selects it. */
    public static final String NAME = "endpoint";
    /** Where {@link #write} hands each message: the route file's second route sends it on to {@code destination.uri}. */
    public static final String SEND_URI = "direct:destination-endpoint-send";
    /** The property the route file's {@code toD} reads: {@code destination.uri} in Camel's simple language. */
    public static final String URI_PROPERTY = "pgsource.endpoint_uri";
    /** Where the positions are kept, in {@code destination.directory}. */
    public static final String POSITIONS_FILE = "_pgsource-endpoint-positions.json";
    /** The default of {@code destination.endpoint.lanes}. */
    public static final int DEFAULT_LANES = 16;
    /** How many messages of each lane may be built and waiting for their send (which bounds the memory a batch takes). */
    static final int WAITING_PER_LANE = 8;

    /** Message header: the change's operation, {@code c}, {@code u}, {@code d}, {@code r} or {@code t}. */
    public static final String OP = "PgSourceOp";
    /** Message header: the source table's schema. */
    public static final String SCHEMA = "PgSourceSchema";
    /** Message header: the source table's name. */
    public static final String TABLE = "PgSourceTable";
    /** Message header: the row's primary key as a JSON object ({@code {"id":1}}); absent for tables without a key. */
    public static final String KEY = "PgSourceKey";
    /** Message header: the LSN of the source transaction's commit record ({@code X/X}); absent for rows of the batch query. */
    public static final String LSN = "PgSourceLsn";
    /** Message header: the source transaction id; absent for rows of the batch query. */
    public static final String TX_ID = "PgSourceTxId";
    /**
     * Message header: where the change stands. Log replication: {@code <commit LSN as 16 hex digits>:<its place in the
     * transaction, 10 digits>}, growing along the stream in plain string order, so a consumer that keeps, per key, the
     * highest it processed (and per table the highest truncate) drops every message at or below it. Batch query and copies: {@code <schema.table>@<bookmark>#<place in
     * the page>}, which names the page (repeats are rows read again: upsert them by key).
     */
    public static final String POSITION = "PgSourcePosition";

    private static final Logger LOG = LoggerFactory.getLogger(EndpointSink.class);
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{(schema|table)}");

    /** The body's format. */
    public enum Format { PGSOURCE, DEBEZIUM }

    private FilePositionStore positions;
    private Format format = Format.PGSOURCE;
    private String serverName = "pgsource";
    private String database = "";
    private ProducerTemplate producer;
    private CamelContext camel;
    /** {@code destination.endpoint.lanes}: how many messages are sent side by side, each lane in order. */
    private int lanes = DEFAULT_LANES;
    /** The threads the lanes send on. */
    private ExecutorService senders;
    /** Permits for the messages built and not yet confirmed: {@value #WAITING_PER_LANE} per lane. */
    private Semaphore window;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public void open(DestinationContext context) throws Exception {
        camel = context.camel();
        String uri = context.property("destination.uri", null);
        if (uri == null) {
            throw new ConfigurationException("destination=endpoint needs destination.uri, a Camel endpoint URI where ${schema} and ${table}"
                    + " stand for the source table, e.g. destination.uri=nats:cdc.${schema}.${table}?jetstreamEnabled=true");
        }
        format = format(context.property("destination.format", "pgsource"));
        serverName = context.property("destination.server_name", "pgsource");
        database = context.settings().source().database();
        checkUri(context.camel(), uri);
        String simple = toSimple(withDefaults(uri));
        context.camel().getPropertiesComponent().addOverrideProperty(URI_PROPERTY, simple);
        Path dir = context.settings().destination().outputDirectory();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new ConfigurationException("destination.directory=" + dir + " cannot be created (" + e.getMessage()
                    + "): the endpoint destination keeps its positions there; set it to a writable directory");
        }
        positions = new FilePositionStore(dir.resolve(POSITIONS_FILE));
        lanes = lanes(context.property("destination.endpoint.lanes", Integer.toString(DEFAULT_LANES)));
        senders = camel.getExecutorServiceManager().newFixedThreadPool(this, "pgsource-endpoint-send", lanes);
        window = new Semaphore(WAITING_PER_LANE * lanes);
        producer = context.camel().createProducerTemplate();
        camel.getRegistry().bind(SendRoute.BEAN_NAME, sendRoute);
        LOG.info("Each change goes as one {} message to {} (positions in {})", format.name().toLowerCase(Locale.ROOT),
                URISupport.sanitizeUri(uri), dir.resolve(POSITIONS_FILE));
    }

    /** {@code destination.endpoint.lanes}: 1 to 256. */
    static int lanes(String text) {
        try {
            int n = Integer.parseInt(text.strip());
            if (n >= 1 && n <= 256) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new ConfigurationException("destination.endpoint.lanes=" + text + " is not a number of lanes: use 1 to 256 (default "
                + DEFAULT_LANES + "; 1 sends one message at a time)");
    }

    /** {@code destination.format}: pgsource or debezium. */
    public static Format format(String text) {
        try {
            return Format.valueOf(text.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("destination.format=" + text + " is not a format: use pgsource (pgsource's JSON envelope)"
                    + " or debezium (Debezium's JSON change event, without schema)");
        }
    }

    /** {@code ${schema}} and {@code ${table}} as the headers every message carries; Camel's own simple language stays. */
    static String toSimple(String uri) {
        return PLACEHOLDER.matcher(uri).replaceAll(m -> Matcher.quoteReplacement("${header." + (m.group(1).equals("schema") ? SCHEMA : TABLE) + "}"));
    }

    /**
     * NATS: a producer stopped after a failed send (see {@link #restartSendRoute}) flushes its connection first by
     * default, which fails on a connection that lost the server, and then leaves it open, reconnecting forever: unless
     * the URI says otherwise, it closes it without flushing ({@code flushConnection=false}; every message was confirmed
     * or failed by then, so there is nothing to flush).
     */
    static String withDefaults(String uri) {
        if (uri.startsWith("nats:") && !uri.contains("flushConnection=")) {
            return uri + (uri.contains("?") ? "&" : "?") + "flushConnection=false";
        }
        return uri;
    }

    /**
     * The component must be on the class path, and the brokers pgsource knows must confirm each message: without it a
     * send returns before the broker has the message, and a batch would count as applied while messages are lost.
     */
    static void checkUri(CamelContext camel, String uri) {
        int colon = uri.indexOf(':');
        String scheme = colon > 0 ? uri.substring(0, colon) : uri;
        if (camel.getComponent(scheme, true) == null) {
            throw new ConfigurationException("destination.uri=" + URISupport.sanitizeUri(uri) + " names the Camel component " + scheme
                    + ", which is not on the class path: add its jar (org.apache.camel:camel-" + scheme + ") or use another URI");
        }
        Map<String, Object> options;
        try {
            options = URISupport.parseQuery(URISupport.extractQuery(uri.replaceAll("\\$\\{[^}]*}", "x")));
        } catch (Exception e) {
            throw new ConfigurationException("destination.uri=" + URISupport.sanitizeUri(uri) + " cannot be read as an endpoint URI ("
                    + e.getMessage() + ")");
        }
        if (scheme.equals("nats") && !"true".equals(String.valueOf(options.get("jetstreamEnabled")))) {
            throw new ConfigurationException("destination.uri=" + URISupport.sanitizeUri(uri) + " publishes to core NATS, which confirms"
                    + " nothing, so changes could be lost: add jetstreamEnabled=true (a JetStream stream must take in the subjects)");
        }
        if (scheme.equals("spring-rabbitmq") && !"enabled".equals(String.valueOf(options.get("confirm")))) {
            throw new ConfigurationException("destination.uri=" + URISupport.sanitizeUri(uri) + " does not wait for RabbitMQ's"
                    + " publisher confirms, so changes could be lost: add confirm=enabled (and a connection factory with"
                    + " publisherConfirmType=SIMPLE)");
        }
    }


    @Override
    public PositionStore positions() {
        return positions;
    }

    @Override
    public String outputIdentity(DestinationSettings settings) {
        return settings.outputDirectory().toAbsolutePath().normalize().toString();
    }

    /** Its positions belong to the demo database they were written from: another one's are moved aside. */
    @Override
    public void demo(DemoServer server, DestinationSettings settings, java.util.Properties overrides) throws Exception {
        server.claimDirectory(settings.outputDirectory());
    }

    /**
     * Sends the batch's changes over {@link #lanes} lanes at once and returns once the endpoint confirmed every one; the
     * first failure fails the batch (nothing more is sent, the messages on their way are awaited).
     */
    @Override
    public void write(Exchange exchange, ChangeBatch batch, StoredPosition position) throws Exception {
        long before = exchange.getIn().getHeader(ChangeHeaders.TX_CHANGES_BEFORE, 0L, Long.class);
        long now = System.currentTimeMillis();
        Sending sending = new Sending();
        try {
            for (int i = 0; i < batch.size() && !sending.failed(); i++) {
                ChangeEvent e = batch.get(i);
                Exchange message = message(e, batch, before + i, i, now);
                if (alone(e)) {
                    sending.drain();
                    sending.send(-1, message, e);
                } else {
                    String key = (String) message.getIn().getHeader(KEY);
                    sending.send(Math.floorMod(31 * e.tableId().hashCode() + (key == null ? 0 : key.hashCode()), lanes), message, e);
                }
            }
        } finally {
            sending.await();
        }
        sending.drain();
    }

    /**
     * A change that must not overtake, nor be overtaken by, any other of its batch: a truncate (it empties the table of
     * every key) and an update that changes the row's key (it frees the old key, which a later change may take again).
     */
    static boolean alone(ChangeEvent e) {
        if (e.op() == Op.TRUNCATE) {
            return true;
        }
        return e.op() == Op.UPDATE && e.before() != null && e.after() != null && e.table().hasKey()
                && !Objects.equals(ChangeEnvelope.keyJson(e.table(), e.before()), ChangeEnvelope.keyJson(e.table(), e.after()));
    }

    /** The message of a change: its body in {@link #format} and its headers. */
    private Exchange message(ChangeEvent e, ChangeBatch batch, long inTransaction, int inBatch, long now) {
        Exchange message = new DefaultExchange(camel, ExchangePattern.InOnly);
        Position p = e.position() != null ? e.position() : batch.position();
        message.getIn().setBody(format == Format.DEBEZIUM
                ? ChangeEnvelope.toDebeziumJson(e, batch.position(), serverName, database, "pgsource", now)
                : ChangeEnvelope.toJson(e, batch.position()));
        message.getIn().setHeader(Exchange.CONTENT_TYPE, "application/json");
        message.getIn().setHeader(OP, e.op().code());
        message.getIn().setHeader(SCHEMA, e.tableId().schema());
        message.getIn().setHeader(TABLE, e.tableId().name());
        String key = ChangeEnvelope.keyJson(e);
        if (key != null) {
            message.getIn().setHeader(KEY, key);
        }
        if (p instanceof Position.Log log) {
            message.getIn().setHeader(LSN, Positions.lsn(log.commitLsn()));
            message.getIn().setHeader(TX_ID, log.txId());
            message.getIn().setHeader(POSITION, String.format(Locale.ROOT, "%016X:%010d", log.commitLsn(), inTransaction));
        } else if (p instanceof Position.Batch page) {
            message.getIn().setHeader(POSITION, page.stream() + "@" + page.bookmark() + "#" + inBatch);
        }
        return message;
    }

    /**
     * The sending of one batch: each lane a chain of sends, one after the other (each waits for its confirmation), the
     * lanes side by side on {@link #senders}; at most {@link #window}'s permits of messages are built and not yet
     * confirmed. The first failure is kept, and no send starts after it.
     */
    private final class Sending {
        @SuppressWarnings("unchecked")
        private final CompletableFuture<Void>[] tails = new CompletableFuture[lanes];
        private final AtomicReference<Failure> failure = new AtomicReference<>();

        Sending() {
            Arrays.fill(tails, CompletableFuture.completedFuture(null));
        }

        boolean failed() {
            return failure.get() != null;
        }

        /** Sends the message on the lane, after the lane's earlier ones; lane -1: here and now (after {@link #drain}). */
        void send(int lane, Exchange message, ChangeEvent e) throws InterruptedException {
            if (lane < 0) {
                sendNow(message, e);
                return;
            }
            window.acquire();
            try {
                tails[lane] = tails[lane].thenRunAsync(() -> {
                    try {
                        sendNow(message, e);
                    } finally {
                        window.release();
                    }
                }, senders);
            } catch (RuntimeException rejected) { // the pool is shut down: pgsource stops
                window.release();
                throw rejected;
            }
        }

        private void sendNow(Exchange message, ChangeEvent e) {
            if (failed()) {
                return;
            }
            try {
                producer.send(SEND_URI, message);
            } catch (RuntimeException ex) {
                message.setException(ex);
            }
            if (message.getException() != null) {
                failure.compareAndSet(null, new Failure(message, e));
            }
        }

        /** Waits for every message on its way, whatever happens to them. */
        void await() {
            try {
                CompletableFuture.allOf(tails).join();
            } catch (RuntimeException ignored) {
                // a lane that could not even start (the pool stopped): its failure is the one reported
            }
        }

        /** Waits for every message on its way; throws when one of the batch failed. */
        void drain() {
            await();
            Failure f = failure.get();
            if (f == null) {
                for (CompletableFuture<Void> tail : tails) {
                    if (tail.isCompletedExceptionally()) {
                        tail.join(); // throws its cause
                    }
                }
                return;
            }
            restartSendRoute();
            throw new IllegalStateException("the endpoint did not take the change of " + f.event().tableId() + " at "
                    + f.message().getIn().getHeader(POSITION) + " (" + describe(f.message().getException()) + "); the batch is sent"
                    + " again from its first change", f.message().getException());
        }
    }

    /** The first message of a batch that failed. */
    private record Failure(Exchange message, ChangeEvent event) {
    }

    /**
     * After a failed send the client's state is not known (a NATS connection that reconnected may no longer get its
     * acknowledgements): the send route is restarted, which stops its producers and closes their connections, so the
     * batch's next attempt starts on new ones.
     */
    private void restartSendRoute() {
        org.apache.camel.Route route = sendRoute.route;
        if (route == null) {
            LOG.warn("no route names routePolicy {}: the next attempt uses the producers it has", SendRoute.BEAN_NAME);
            return;
        }
        try {
            camel.getRouteController().stopRoute(route.getRouteId(), 10, java.util.concurrent.TimeUnit.SECONDS);
            camel.getRouteController().startRoute(route.getRouteId());
        } catch (Exception e) {
            LOG.warn("cannot restart route {} after a failed send ({}); the next attempt uses the producers it has",
                    route.getRouteId(), e.getMessage());
        }
    }

    /**
     * The route that sends one message, known by the policy its route file names ({@value #BEAN_NAME}), not by its id:
     * a user's copy of the route file may call it what it likes.
     */
    private static final class SendRoute extends org.apache.camel.support.RoutePolicySupport {
        static final String BEAN_NAME = "pgsourceEndpointSend";
        private volatile org.apache.camel.Route route;

        @Override
        public void onInit(org.apache.camel.Route route) {
            this.route = route;
        }
    }

    private final SendRoute sendRoute = new SendRoute();

    /** An exception and its causes, each as its message or, without one, its class. */
    private static String describe(Throwable t) {
        StringBuilder out = new StringBuilder();
        for (Throwable c = t; c != null && out.length() < 500; c = c.getCause() == c ? null : c.getCause()) {
            if (!out.isEmpty()) {
                out.append(": ");
            }
            out.append(c.getMessage() != null ? c.getMessage() : c.getClass().getSimpleName());
        }
        return out.toString();
    }

    @Override
    public void close() throws Exception {
        if (producer != null) {
            producer.close();
        }
        if (senders != null) {
            camel.getExecutorServiceManager().shutdown(senders);
        }
    }
}
