"""Tasks: what each model family brings to the one trainer (see ``base.Task``).

``build_task(config)`` picks the task named by ``config.task``, or else the first task in
``TASKS`` whose ``accepts(config.model)`` is true.
"""

from __future__ import annotations

from vjax.tasks.base import Task
from vjax.tasks.localization import BMNTask, PEMTask, TEMTask
from vjax.tasks.recognition import MultiLabelRecognition, Recognition
from vjax.tasks.skeleton import SkeletonRecognition
from vjax.tasks.ssn import SSNTask

# Most specific first: inference from the model config takes the first that accepts it.
TASKS: dict[str, type[Task]] = {
    BMNTask.name: BMNTask,
    TEMTask.name: TEMTask,
    PEMTask.name: PEMTask,
    MultiLabelRecognition.name: MultiLabelRecognition,
    SSNTask.name: SSNTask,
    SkeletonRecognition.name: SkeletonRecognition,
    Recognition.name: Recognition,
}


def build_task(config) -> Task:
  """The task for ``config`` (a ConfigDict with ``model`` and ``data``)."""
  name = config.get("task") or ""
  if name:
    if name not in TASKS:
      raise KeyError(f"config.task={name!r} is not a task; choose from {sorted(TASKS)} or "
                     "leave it empty to infer it from the model type")
    return TASKS[name](config)
  model_cfg = config.model
  for task in TASKS.values():
    if task.accepts(model_cfg):
      return task(config)
  raise ValueError(f"no task serves model type {model_cfg.get('type')!r}; set config.task to "
                   f"one of {sorted(TASKS)}")
