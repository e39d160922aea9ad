"""Task files: YAML loaded into frozen dataclasses, with file/line/field errors and discovery.

Importing this package imports only ``yaml`` and the standard library.
"""

from __future__ import annotations

from mebench.taskfile.loader import (
    TaskIndex,
    builtin_task_dir,
    is_base_file,
    load_task_file,
    validate_paths,
)
from mebench.taskfile.schema import (
    DATASET_SOURCES,
    ColumnMap,
    DatasetConfig,
    DatasetSource,
    FlowConfig,
    GenerationConfig,
    JudgeConfig,
    MetricConfig,
    TaskConfig,
)

__all__ = [
    "DATASET_SOURCES",
    "ColumnMap",
    "DatasetConfig",
    "DatasetSource",
    "FlowConfig",
    "GenerationConfig",
    "JudgeConfig",
    "MetricConfig",
    "TaskConfig",
    "TaskIndex",
    "builtin_task_dir",
    "is_base_file",
    "load_task_file",
    "validate_paths",
]
