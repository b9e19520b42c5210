"""Brands page: list, create, edit and delete brand profiles (editors and admins write)."""

import reflex as rx
from pydantic import BaseModel

from postforge.services.content import brands
from postforge.services.kernel.errors import ServiceError
from postforge.state.shell import ShellState, in_workspace, workspace_shell


class BrandItem(BaseModel):
    id: int
    name: str
    tone_of_voice: str
    target_audience: str
    sample_count: int


class BrandsState(rx.State):
    brands: list[BrandItem] = []
    dialog_open: bool = False
    editing_id: int = 0  # 0: a new brand
    name: str = ""
    tone_of_voice: str = ""
    target_audience: str = ""
    samples: list[str] = []
    error: str = ""
    error_field: str = ""
    delete_open: bool = False
    delete_id: int = 0
    delete_name: str = ""

    @rx.var
    def can_add_sample(self) -> bool:
        return len(self.samples) < brands.SAMPLES_MAX

    @rx.event
    def set_name(self, value: str):
        self.name = value

    @rx.event
    def set_tone_of_voice(self, value: str):
        self.tone_of_voice = value

    @rx.event
    def set_target_audience(self, value: str):
        self.target_audience = value

    @rx.event
    def set_sample(self, index: int, value: str):
        if 0 <= index < len(self.samples):
            self.samples[index] = value

    @rx.event
    def add_sample(self):
        if len(self.samples) < brands.SAMPLES_MAX:
            self.samples.append("")

    @rx.event
    def remove_sample(self, index: int):
        if 0 <= index < len(self.samples):
            self.samples.pop(index)

    @rx.event
    def set_dialog_open(self, value: bool):
        self.dialog_open = value

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value

    @rx.event
    async def load(self):
        shell = await workspace_shell(self)
        if shell is None:
            self.brands = []
            return None
        try:
            rows = await in_workspace(shell, brands.list_brands)
        except ServiceError as error:
            self.brands = []
            return rx.toast.error(error.message)
        self.brands = [
            BrandItem(
                id=row.id,
                name=row.name,
                tone_of_voice=row.tone_of_voice,
                target_audience=row.target_audience,
                sample_count=len(row.sample_posts),
            )
            for row in rows
        ]
        return None

    def _fill(self, brand_id: int, name: str, tone: str, audience: str, samples: list[str]) -> None:
        self.editing_id, self.name, self.tone_of_voice, self.target_audience = brand_id, name, tone, audience
        self.samples = samples
        self.error, self.error_field, self.dialog_open = "", "", True

    @rx.event
    def open_new(self):
        self._fill(0, "", "", "", [""])

    @rx.event
    async def open_edit(self, brand_id: int):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        try:
            brand = await in_workspace(shell, brands.get_brand, brand_id=int(brand_id))
        except ServiceError as error:
            return rx.toast.error(error.message)
        self._fill(brand.id, brand.name, brand.tone_of_voice, brand.target_audience, list(brand.sample_posts))
        return None

    @rx.event
    async def save(self):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        fields = {
            "name": self.name,
            "tone_of_voice": self.tone_of_voice,
            "target_audience": self.target_audience,
            "sample_posts": [sample for sample in self.samples if sample.strip()],
        }
        editing = self.editing_id
        try:
            if editing:
                saved = await in_workspace(shell, brands.update_brand, brand_id=editing, **fields)
            else:
                saved = await in_workspace(shell, brands.create_brand, **fields)
        except ServiceError as error:
            # The dialog stays open with everything as typed.
            self.error, self.error_field = error.message, error.field or ""
            return rx.toast.error(error.message)
        self.dialog_open, self.error, self.error_field = False, "", ""
        await self.load()
        return rx.toast.success(f"Brand “{saved.name}” {'saved' if editing else 'created'}.")

    @rx.event
    def ask_delete(self, brand_id: int, name: str):
        self.delete_id, self.delete_name, self.delete_open = int(brand_id), name, True

    @rx.event
    async def delete(self):
        shell = await workspace_shell(self)
        if shell is None:
            return ShellState.require_login
        try:
            await in_workspace(shell, brands.delete_brand, brand_id=self.delete_id)
        except ServiceError as error:
            self.delete_open = False
            return rx.toast.error(error.message)
        self.delete_open = False
        await self.load()
        return rx.toast.success(f"Brand “{self.delete_name}” deleted.")
