"""Start Huifang on the embedded default: SQLite, demo data, the timer worker in-process.

    python run.py            # http://127.0.0.1:5000
    python run.py --port 8080 --no-demo
"""
from __future__ import annotations

import argparse
import os
import threading

from flask_migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HUIFANG_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HUIFANG_PORT", 5000)))
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo month")
    args = parser.parse_args()

    from app import create_app
    from app.cli import demo, init, worker

    app = create_app()
    with app.app_context():
        upgrade()
    runner = app.test_cli_runner()
    for command, cli_args in [(init, []), *([] if args.no_demo else [(demo, [])])]:
        result = runner.invoke(command, cli_args)
        print(result.output, end="")
        if result.exit_code != 0:
            raise SystemExit(result.exit_code)

    # The embedded default runs the timer worker in a thread; production runs `flask huifang worker`.
    threading.Thread(target=lambda: runner.invoke(worker, []), daemon=True).start()
    print(f"Huifang is running at http://{args.host}:{args.port}/  (log in as admin)")
    app.run(host=args.host, port=args.port, debug=False, use_reloader=False)


if __name__ == "__main__":
    main()
