"""I/O: transports (TCP, TLS, Unix, proxies, WebSocket) and the network-loop engine."""
