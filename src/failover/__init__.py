"""Failover: the pure decision after a failed attempt, the cooldowns requests share, answers held
back until they can no longer fail over, and the dispatcher that carries a plan out."""
