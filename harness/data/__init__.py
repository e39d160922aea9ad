"""Dataset loading: a task's ``dataset`` section -> a list of :class:`mebench.types.Sample`."""

from mebench.data.loaders import effective_dataset, load_samples

__all__ = ["effective_dataset", "load_samples"]
