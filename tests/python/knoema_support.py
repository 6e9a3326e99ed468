"""What the tests that drive the real `knoema` package share: a fresh ApiConfig (the package
reads KNOEMA_HOST once, into a singleton) and the demo datasets read as a user would."""

import contextlib

import knoema

GDP = "Gross domestic product, current prices (U.S. dollars)"
DEMO_APP = ("demo-app", "demo-app-secret")


def forget_config() -> None:
    """Drops the package's ApiConfig singleton, so the next one reads KNOEMA_HOST again."""
    if hasattr(knoema.ApiConfig, "instance"):
        del knoema.ApiConfig.instance


@contextlib.contextmanager
def fresh_config():
    """A block in which ApiConfig is made afresh, and forgotten again after it."""
    forget_config()
    try:
        yield knoema
    finally:
        forget_config()


def read_demo_datasets() -> None:
    """An anonymous read of a public dataset, then a signed read of a private one (as demo-app),
    each checked against the fixtures' values."""
    frame = knoema.get("IMFWEO2024Oct", country="Albania;US", subject="NGDPD")
    assert frame[("Albania", GDP, "A")].round(2).tolist() == [15.16, 15.40, 15.16, 18.26, 19.02, 23.00]
    config = knoema.ApiConfig()
    config.app_id, config.app_secret = DEMO_APP
    sales = knoema.get("DEMOSALES", region="North")
    assert sales[("North", "Q")].tolist() == [120.5, 131.0, 128.4, 140.2, 133.9, 145.1]
