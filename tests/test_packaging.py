"""What a newcomer relies on: a light import and a demo that agrees with PyTorch."""
import subprocess
import sys

OPTIONAL = ["torch", "cupy", "mpi4py", "matplotlib", "scipy", "tqdm", "gensim", "hypothesis"]


def test_import_minigrad_loads_no_optional_package():
    code = (
        "import sys, minigrad, minigrad.nn, minigrad.optim; "
        f"print([m for m in {OPTIONAL!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_demo_losses_equal_pytorch():
    from minigrad.examples import demo

    assert demo.main(["--epochs", "30", "--hidden", "16"]) == 0
