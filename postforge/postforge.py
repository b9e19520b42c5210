import reflex as rx

app = rx.App()


@rx.page(route="/")
def index() -> rx.Component:
    return rx.text("PostForge")
