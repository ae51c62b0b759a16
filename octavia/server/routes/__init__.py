"""HTTP routers, one module per resource; all mounted under /v1 by octavia.server.app."""
