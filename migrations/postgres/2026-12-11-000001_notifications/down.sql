DROP TABLE notification_cursors;
DROP TABLE notifications;
DROP TABLE subscriptions;
DROP TABLE changes;
