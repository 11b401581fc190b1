"""The sans-I/O core: packets, codec, session state machine and stores.

Nothing here touches sockets, threads, the clock or user callbacks. Time is an input (``now``),
so keepalive, retries and backoff are tested without sleeping.
"""
