DROP TABLE hub_keys;
DROP TABLE used_assertions;
DROP TABLE agency_certificates;
DROP TABLE agencies;
