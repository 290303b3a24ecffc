"""ragline's shared backbone and classical-ML track: experiments, registry, costs, monitoring."""
