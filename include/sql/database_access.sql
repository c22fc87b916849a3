-- Close a database of the embedded cluster to every role not granted CONNECT on it by name.
-- PostgreSQL grants CONNECT and TEMPORARY on every new database to PUBLIC: any login role (the
-- dashboard's, the analysts') could otherwise open the Airflow metadata or the maintenance
-- database and create temporary tables there. The superuser the stack runs Airflow as passes
-- regardless; the roles that need a database get CONNECT there explicitly
-- (include/sql/reader_role.sql for the warehouse, include/sql/crm_roles.sql for the CRM's).
revoke connect, temporary on database %(database)s from public;
