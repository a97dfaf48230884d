"""MCP (Model Context Protocol) servers: their tools offered to the model beside the built-in ones.

`config` reads the user's `mcp_servers` table (plain Python: the app's first frame may check it);
`manager` starts the servers lazily, restarts crashed ones and says what each one is doing;
`connection` is the only module that imports the `mcp` SDK, and only once a server starts;
`tool`, `schema`, `names` and `results` turn a server's tools into `Tool`s of the registry.
"""
