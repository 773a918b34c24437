DROP TABLE schemas;
