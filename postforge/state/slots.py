"""The posting-slots card: the workspace's weekly schedule, add several weekdays at one time, remove."""

import reflex as rx
from pydantic import BaseModel

from postforge.services.content import slots
from postforge.services.kernel.errors import ServiceError
from postforge.state.shell import ShellState, in_workspace


class SlotItem(BaseModel):
    id: int
    local_time: str
    label: str


class DaySlots(BaseModel):
    weekday: int
    name: str
    slots: list[SlotItem]


class SlotsState(rx.State):
    days: list[DaySlots] = []
    total: int = 0
    zone: str = "UTC"
    chosen_days: list[int] = [0, 1, 2, 3, 4]
    new_time: str = "09:00"
    error: str = ""

    async def _shell(self) -> ShellState:
        return await self.get_state(ShellState)

    def _show(self, rows: list[slots.SlotView]) -> None:
        grouped = {day: [] for day in range(7)}
        for row in rows:
            grouped[row.weekday].append(SlotItem(id=row.id, local_time=row.local_time, label=row.label))
        self.days = [
            DaySlots(weekday=day, name=slots.WEEKDAYS[day], slots=items) for day, items in grouped.items()
        ]
        self.total = len(rows)

    @rx.event
    async def load(self):
        shell = await self._shell()
        self.zone = shell.workspace_timezone or "UTC"
        self.error = ""
        if not shell.workspace_id:
            self._show([])
            return None
        try:
            rows = await in_workspace(shell, slots.list_slots)
        except ServiceError as error:
            return rx.toast.error(error.message)
        self._show(rows)
        return None

    @rx.event
    def toggle_day(self, weekday: int, checked: bool):
        days = [day for day in self.chosen_days if day != int(weekday)]
        if checked:
            days.append(int(weekday))
        self.chosen_days = sorted(days)
        self.error = ""

    @rx.event
    def set_new_time(self, value: str):
        self.new_time = value
        self.error = ""

    @rx.event
    async def add(self):
        shell = await self._shell()
        try:
            rows = await in_workspace(
                shell, slots.add_slots, weekdays=list(self.chosen_days), local_time=self.new_time
            )
        except ServiceError as error:
            self.error = error.message  # the chosen days and time stay as they were
            return rx.toast.error(error.message)
        self._show(rows)
        return rx.toast.success(f"Posting slot added at {self.new_time[:5]}.")

    @rx.event
    async def remove(self, slot_id: int):
        shell = await self._shell()
        try:
            rows = await in_workspace(shell, slots.remove_slot, slot_id=int(slot_id))
        except (ServiceError, ValueError, TypeError) as error:
            return rx.toast.error(getattr(error, "message", "That slot could not be removed."))
        self._show(rows)
        return None
