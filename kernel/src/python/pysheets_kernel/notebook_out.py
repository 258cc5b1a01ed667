"""`pysheets run --out`: the notebook with the outputs a frontend would show after the run.

What Python published for each cell (recorded by the model) becomes that cell's outputs, as
JupyterLab would show them: prints as streams, errors, values as `display_data`; an
`update_display_data` (a re-run's new value) replaces the output it names wherever it is, and
each code cell gets its address in `metadata.pysheets.address`.
"""

import copy
import json


def _outputs(recorded, addresses):
    by_display = {}  # display id -> the outputs showing it
    cell_of = {f"pysheets-{a}": n for n, a in enumerate(addresses) if a}
    cells = [[] for _ in recorded]
    for n, messages in enumerate(recorded):
        outs = cells[n]
        for msg_type, text in messages:
            c = json.loads(text)
            display_id = (c.get("transient") or {}).get("display_id")
            if msg_type == "stream":
                if outs and outs[-1]["output_type"] == "stream" and outs[-1]["name"] == c["name"]:
                    outs[-1]["text"] += c["text"]
                else:
                    outs.append({"output_type": "stream", "name": c["name"], "text": c["text"]})
            elif msg_type in ("display_data", "execute_result"):
                o = {"output_type": msg_type, "data": c.get("data", {}),
                     "metadata": c.get("metadata", {})}
                if msg_type == "execute_result":
                    o["execution_count"] = c.get("execution_count")
                if display_id:
                    by_display.setdefault(display_id, []).append(o)
                outs.append(o)
            elif msg_type == "update_display_data":
                shown = by_display.get(display_id)
                if not shown and display_id in cell_of:
                    # The cell failed when it ran (an error, no display to update) and has a
                    # value since: the value replaces the error, as the grid shows it. A
                    # frontend without the grid keeps showing the error.
                    mine = cells[cell_of[display_id]]
                    mine[:] = [o for o in mine if o["output_type"] != "error"]
                    o = {"output_type": "display_data"}
                    mine.append(o)
                    shown = by_display[display_id] = [o]
                for o in shown or ():
                    o["data"] = c.get("data", {})
                    o["metadata"] = c.get("metadata", {})
            elif msg_type == "error":
                outs.append({"output_type": "error", "ename": c.get("ename", ""),
                             "evalue": c.get("evalue", ""),
                             "traceback": c.get("traceback", [])})
            elif msg_type == "clear_output":
                outs.clear()
    return cells


def write(path, nb, sheet):
    out = copy.deepcopy(nb)
    outputs = _outputs(sheet.outputs, [address for _, address, _ in sheet.steps])
    for n, ((index, _, _, _), (_, address, _), outs) in enumerate(
            zip(sheet.code_cells, sheet.steps, outputs)):
        cell = out["cells"][index]
        cell["outputs"] = outs
        cell["execution_count"] = n + 1
        if address:
            meta = cell.setdefault("metadata", {})
            if not isinstance(meta.get("pysheets"), dict):
                meta["pysheets"] = {}
            meta["pysheets"]["address"] = address
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
