/// The dashboard's only asset, served by the binary itself (no CDN, no build step).
enum DashboardAssets {
    static let css = """
        :root { --fg: #1d2330; --muted: #687086; --line: #dde1ea; --ok: #2f9e6b; --bad: #d2453d; --bg: #f7f8fb; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        header { display: flex; gap: 24px; align-items: center; padding: 10px 24px; background: #1d2330; color: #fff; }
        header .brand { font-weight: 700; font-size: 16px; letter-spacing: .04em; }
        header nav a { color: #c9cfdd; text-decoration: none; margin-right: 16px; }
        header nav a.active, header nav a:hover { color: #fff; border-bottom: 2px solid #fff; }
        header .refreshed { margin-left: auto; color: #9aa3b8; font-size: 12px; }
        main { padding: 16px 24px 40px; }
        h1 { font-size: 20px; margin: 18px 0 10px; }
        h2 { font-size: 15px; margin: 22px 0 8px; }
        table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
        th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: middle; }
        th { background: #eef0f5; font-weight: 600; font-size: 12px; text-transform: uppercase; color: var(--muted); }
        td .error, .error { color: var(--bad); font-family: ui-monospace, monospace; font-size: 12px; }
        pre { background: #fff; border: 1px solid var(--line); padding: 10px; overflow: auto; max-height: 320px; }
        code { font-family: ui-monospace, monospace; font-size: 12px; }
        .alerts { border: 1px solid var(--bad); background: #fdecea; padding: 6px 14px; margin-bottom: 8px; }
        .alerts.ok { border-color: var(--ok); background: #e8f6ef; }
        .alerts h2 { margin: 6px 0; color: var(--bad); }
        .alerts ul { margin: 4px 0 8px; padding-left: 18px; }
        .empty { color: var(--muted); }
        .spark rect { fill: var(--ok); }
        .spark.bad rect { fill: var(--bad); }
        .spark { background: #f1f3f7; }
        .alive { color: var(--ok); font-weight: 600; }
        .dead { color: var(--bad); font-weight: 600; }
        form.filter { margin: 8px 0 12px; display: flex; gap: 12px; align-items: center; }
        form.filter input { padding: 3px 6px; border: 1px solid var(--line); }
        a { color: #2457c5; }
        """
}
