from .runtime import use_cpu_collectives

__all__ = ['use_cpu_collectives']
