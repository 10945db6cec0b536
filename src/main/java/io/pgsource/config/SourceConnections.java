package io.pgsource.config;

import java.sql.Connection;
import java.sql.SQLException;

/**
 * Opens connections to the source database with the session settings that make PostgreSQL's text output
 * deterministic (so the batch query and the WAL produce the same canonical values), and turns connection
 * failures into errors that name the fix.
 */
public interface SourceConnections {

    /** A new connection (autocommit on); the caller closes it. */
    Connection open() throws SQLException;
}
