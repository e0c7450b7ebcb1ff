"""``python -m streams.llm_server --script FILE --port N``."""

from streams.llm_server.cli import llm_server

if __name__ == "__main__":
    import typer

    typer.run(llm_server)
