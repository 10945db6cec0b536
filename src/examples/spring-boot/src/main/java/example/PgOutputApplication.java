package example;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** A Spring Boot application whose Camel routes ({@link ChangesRoute}) read PostgreSQL's changes. */
@SpringBootApplication
public class PgOutputApplication {

    public static void main(String[] args) {
        SpringApplication.run(PgOutputApplication.class, args);
    }
}
