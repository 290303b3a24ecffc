"""What guards each model call the router makes: a circuit breaker per deployment, budgets
per key and period, rate limits per key, retries with backoff and per-call timeouts.

breaker     CircuitBreaker (closed -> open -> half-open), in memory or shared through Redis
budgets     Budgets: spend per key / day / month, checked before a call, charged after
ratelimit   RateLimiter: requests and tokens per minute per key (memory or Redis)
retry       call_with_retry (backoff, retryable errors only), call_with_timeout
"""
