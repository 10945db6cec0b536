-- The destination of docker-compose.yml: a role that owns its database (CREATE there is all the postgres destination
-- needs: it creates schemas, tables and _pgsource.positions), no superuser. Run once by the image's entrypoint.
CREATE ROLE warehouse LOGIN PASSWORD 'warehouse';
CREATE DATABASE warehouse OWNER warehouse;
