package io.pgsource.app;

import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.Nats;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.pgsource.testsupport.TestPostgres;
import java.nio.file.Files;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * A measurement (not a test, surefire does not pick it up by name): LOG_BASED streaming of {@code -Dtx=100} transactions
 * of 1,000 inserted rows each, into jsonl and into destination=endpoint on NATS JetStream (127.0.0.1:4222, a file stream)
 * and on RabbitMQ (127.0.0.1:5672, a durable queue, publisher confirms),
 * timed from the start of the run that streams them to its end (sync.once; the JVM is warm, Camel starts in it), each
 * broker with every {@code destination.endpoint.lanes} of {@code -Dlanes} (default {@code 1,16}), in one run:
 * {@code mvn -o test -Dtest=EndpointThroughputBenchmark -Dtx=100 -Dlanes=1,16 -Dsurefire.failIfNoSpecifiedTests=false}.
 */
class EndpointThroughputBenchmark {
    @Test
    void measure() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(listening(), "NATS is not running on 127.0.0.1:4222");
        TestPostgres pg = TestPostgres.server();
        int tx = Integer.getInteger("tx", 100);
        java.util.List<String> dests = new java.util.ArrayList<>(java.util.List.of("jsonl"));
        for (String broker : new String[] {"nats", "rabbitmq"}) {
            for (String lanes : System.getProperty("lanes", "1,16").split(",")) {
                dests.add(broker + "-" + lanes.strip());
            }
        }
        for (String dest : dests) {
            String db = pg.createDatabase("tp_" + dest.replace("-", "_"));
            SourceFixture.execute(pg, db, "CREATE SCHEMA shop; CREATE TABLE shop.orders (id bigint PRIMARY KEY, item text, qty int, note text)");
            Map<String, String> env = SourceFixture.env(pg, db, "shop");
            env.put("SOURCE_REPLICATION_METHOD", "LOG_BASED");
            env.put("SOURCE_REPLICATION_SLOT", "tp_" + dest.replace("-", "_"));
            env.put("SOURCE_PUBLICATION_NAME", "tp_pub");
            env.put("DESTINATION_DIRECTORY", Files.createTempDirectory("tp").toString());
            String stream = "TP" + System.nanoTime();
            Properties camel = new Properties();
            if (dest.contains("-")) {
                camel.setProperty("destination.endpoint.lanes", dest.substring(dest.indexOf('-') + 1));
            }
            Connection nats = Nats.connect("nats://127.0.0.1:4222");
            JetStreamManagement jsm = nats.jetStreamManagement();
            jsm.addStream(StreamConfiguration.builder().name(stream).subjects(stream.toLowerCase() + ".>").storageType(StorageType.File).build());
            if (dest.startsWith("nats")) {
                env.put("DESTINATION", "endpoint");
                env.put("DESTINATION_URI", "nats:" + stream.toLowerCase() + ".${schema}.${table}?servers=127.0.0.1:4222&jetstreamEnabled=true");
            } else if (dest.startsWith("rabbitmq")) {
                com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
                try (com.rabbitmq.client.Connection r = f.newConnection(); com.rabbitmq.client.Channel ch = r.createChannel()) {
                    ch.queueDeclare(stream.toLowerCase(), true, false, false, null); // deleted after the count below
                }
                env.put("DESTINATION", "endpoint");
                env.put("DESTINATION_URI", "spring-rabbitmq:default?routingKey=" + stream.toLowerCase() + "&confirm=enabled");
                camel.setProperty("camel.beans.rabbit", "#class:org.springframework.amqp.rabbit.connection.CachingConnectionFactory");
                camel.setProperty("camel.beans.rabbit.host", "127.0.0.1");
                camel.setProperty("camel.beans.rabbit.publisherConfirmType", "SIMPLE");
                camel.setProperty("camel.component.spring-rabbitmq.connection-factory", "#rabbit");
            } else {
                env.put("DESTINATION", "jsonl");
            }
            PgSourceMain.run(env, camel);
            for (int t = 0; t < tx; t++) {
                SourceFixture.execute(pg, db, "INSERT INTO shop.orders SELECT g, 'item ' || g, g % 7, 'a note of some length ' || g FROM generate_series("
                        + (t * 1000 + 1) + ", " + (t + 1) * 1000 + ") g");
            }
            long t0 = System.nanoTime();
            PgSourceMain.run(env, camel);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("THROUGHPUT %s: %d changes in %.1f s = %.0f changes/s (stream msgs %d)%n", dest, tx * 1000, s, tx * 1000 / s,
                    jsm.getStreamInfo(stream).getStreamState().getMsgCount());
            jsm.deleteStream(stream);
            nats.close();
            if (dest.startsWith("rabbitmq")) {
                com.rabbitmq.client.ConnectionFactory f = new com.rabbitmq.client.ConnectionFactory();
                try (com.rabbitmq.client.Connection r = f.newConnection(); com.rabbitmq.client.Channel ch = r.createChannel()) {
                    System.out.printf("THROUGHPUT rabbitmq queue holds %d messages%n", ch.messageCount(stream.toLowerCase()));
                    ch.queueDelete(stream.toLowerCase());
                }
            }
        }
    }

    private static boolean listening() {
        try (java.net.Socket s = new java.net.Socket()) {
            s.connect(new java.net.InetSocketAddress("127.0.0.1", 4222), 500);
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
