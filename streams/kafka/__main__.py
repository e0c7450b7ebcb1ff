from streams.kafka.cli import app

app()
