"""Agent executors: the contract every agent type implements (`contract.py`) and one executor
per type, their I/O through the HttpClient, LlmClient and CodeRunner ports."""
