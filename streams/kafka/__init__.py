"""The Kafka runtime: the compiled pipeline as a faust app on a real broker (see docs/kafka-runtime.md)."""
