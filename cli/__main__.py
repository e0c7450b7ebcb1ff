from dana_workflows.cli.main import main

main()
