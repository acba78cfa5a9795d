"""The engine's in-memory workflows: a step of a cached instance needs no read and no deserialization."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any


@dataclass
class CachedWorkflow:
    """A workflow as committed at ``lock_version``, with what a step needs besides it: the ids of the
    open-task and waiting-timer rows that mirror it, and the instance row's other columns."""
    lock_version: int
    workflow: Any
    tasks: frozenset[str]
    timers: frozenset[str]
    version_id: int
    business_key: str | None


class WorkflowCache:
    """Recently used workflows keyed by instance id, each valid for one lock_version.

    A cached workflow is taken out while an operation uses it, so two threads never share
    one object; it goes back only after its new state was committed. The open tasks of the
    cached workflows are indexed, so completing one finds its workflow without a query.
    """

    def __init__(self, size: int = 512):
        self.size = size
        self._items: OrderedDict[int, CachedWorkflow] = OrderedDict()
        self._by_task: dict[str, int] = {}
        self._lock = threading.Lock()

    def _pop(self, instance_id: int) -> CachedWorkflow | None:
        item = self._items.pop(instance_id, None)
        if item is not None:
            for task_id in item.tasks:
                if self._by_task.get(task_id) == instance_id:
                    del self._by_task[task_id]
        return item

    def take(self, instance_id: int, lock_version: int) -> CachedWorkflow | None:
        with self._lock:
            item = self._pop(instance_id)
        if item is not None and item.lock_version == lock_version:
            return item
        return None

    def take_task(self, task_id: str) -> tuple[int, CachedWorkflow] | None:
        """The cached workflow holding this open task, taken out; its lock_version may be stale
        (another process may have changed the instance since), which the guarded UPDATE detects."""
        with self._lock:
            instance_id = self._by_task.get(task_id)
            item = self._pop(instance_id) if instance_id is not None else None
        return (instance_id, item) if item is not None else None

    def put(self, instance_id: int, item: CachedWorkflow) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._pop(instance_id)
            self._items[instance_id] = item
            for task_id in item.tasks:
                self._by_task[task_id] = instance_id
            while len(self._items) > self.size:
                self._pop(next(iter(self._items)))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._by_task.clear()
