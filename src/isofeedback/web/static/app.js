// isofeedback patient page: an ordinary client of the documented MQTT contract
// (docs/mqtt.md, schemas/*.json). Plain JS, no build step; MQTT.js is vendored.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const PHASE_NAMES = {
    calibrating: "Measuring rest", mvc: "Push hard", mvc_contracting: "Pushing",
    reference: "Gentle level", reference_contracting: "Gentle level",
    detecting: "Detecting", recovering: "Rest", waiting: "Get ready", contracting: "Tense", holding: "Hold",
    releasing: "Release", relaxing: "Relax", stretching: "Stretch", paused: "Paused",
    stopped: "Stopped", done: "Done",
  };
  // after a reload the last cue is gone (cues are not retained): show the phase's usual one
  const PHASE_CUE = {
    calibrating: "calibrate_rest", mvc: "mvc", reference: "reference", waiting: "contract", contracting: "contract",
    holding: "hold", releasing: "release", relaxing: "relax_fully", stretching: "stretch",
    paused: "paused", done: "done",
  };
  const TIMED = { holding: "Hold", relaxing: "Relax", stretching: "Stretch" };
  const ACTIVE = new Set(["contracting", "holding"]);
  const MEASURING = new Set(["calibrating", "reference", "reference_contracting", "mvc",
                             "mvc_contracting"]);
  // the effort's unit in words (the level message's "unit"): % of the gentle reference
  // contraction the patient made at the start, % of a maximal one, or multiples of the
  // rest noise
  // (the same words as coach/protocol.py's UNIT_WORDS)
  const UNIT_WORDS = {"%ref": "% of your gentle level", "%MVC": "% of maximal", "x_rest": "× rest"};
  const VIOLATIONS = {
    too_strong: "too strong", too_weak: "too weak", moved: "joint moved",
    released_early: "let go early", not_relaxed: "not fully relaxed",
    no_release: "did not release", no_contraction: "no contraction",
  };

  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const bench = params.has("bench");

  const state = {
    config: null, cues: {}, prefix: "", session: null, sessionWall: "", seen: new Set(),
    phase: null, phaseT: 0, duration: null, rep: 0, reps: null, sessionT: 0,
    serviceOnline: null, connected: false, finished: false, pending: new Map(),
    devices: {}, jointChecked: null, locale: "en", cueId: "", measuredPeak: 0,
  };
  window.isofeedbackPage = state; // for the browser tests and the latency benchmark
  state.repaints = [];

  // ---------------------------------------------------------------- connection
  function setConn() {
    const el = $("conn");
    let s, text;
    // after the end the session's relay goes away with it: no point saying "Connecting…"
    if (!state.connected && state.finished) { s = "ended"; text = "Session ended"; }
    else if (!state.connected) { s = "connecting"; text = "Connecting…"; }
    else if (state.serviceOnline === false) {
      s = state.finished ? "ended" : "service-offline"; // a normal end is not a problem
      text = state.finished ? "Session ended" : "Service offline";
    } else if (state.serviceOnline === true) { s = "online"; text = "Connected"; }
    else { s = "connecting"; text = "Waiting for the service…"; }
    el.dataset.state = s;
    el.textContent = text;
    // while the link is down the last effort, joint and hold values are old: greyed
    document.body.dataset.stale = String(!state.connected);
  }

  async function start() {
    const [config, cues] = await Promise.all([
      fetch("config.json").then((r) => r.json()),
      fetch("cues.json").then((r) => r.json()),
    ]);
    state.config = config;
    state.cues = cues;
    state.prefix = `${config.root}/${config.patient}`;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const url = `${scheme}${location.host}/mqtt${token ? `?token=${encodeURIComponent(token)}` : ""}`;
    const client = mqtt.connect(url, {
      protocolVersion: config.protocol, clean: true, keepalive: 15, reconnectPeriod: 1000,
      connectTimeout: 5000, resubscribe: false,
      clientId: `isofeedback-page-${Math.random().toString(16).slice(2, 10)}`,
    });
    state.client = client;
    client.on("connect", () => {
      state.connected = true;
      setConn();
      // retained state (status, phase, summary, devices) arrives at once: the re-sync
      client.subscribe(`${state.prefix}/#`, { qos: 1 });
    });
    for (const ev of ["close", "offline", "reconnect"]) {
      client.on(ev, () => { state.connected = false; setConn(); });
    }
    client.on("message", onMessage);
  }

  // ---------------------------------------------------------------- messages
  function onMessage(topic, payload) {
    let doc;
    try { doc = JSON.parse(new TextDecoder().decode(payload)); } catch { return; }
    if (!doc || typeof doc !== "object") return;
    const sub = topic.slice(state.prefix.length + 1);
    if (sub === "control") return; // our own (or another page's) commands
    if (sub === "control/ack") { onAck(doc); return; }
    // the programme is the patient's, not one session's: shown whatever session is on
    if (sub === "schedule") { onSchedule(doc); return; }
    if (sub === "reminder") { onReminder(doc); return; }
    if (sub.startsWith("device/")) { onDevice(sub, doc); return; }
    if (!followSession(doc)) return;
    if (typeof doc.seq === "number" && doc.kind !== "level") {
      if (state.seen.has(doc.seq)) return; // at-least-once delivery: drop duplicates
      state.seen.add(doc.seq);
    }
    switch (doc.kind) {
      case "status": onStatus(doc); break;
      case "phase": onPhase(doc); break;
      case "level": onLevel(doc); break;
      case "cue": onCue(doc); break;
      case "setup": onSetup(doc); break;
      case "rep": onRep(doc); break;
      case "summary": onSummary(doc); break;
      default: break;
    }
  }

  // The newest session (by wall-clock time) is the one shown; retained messages of an
  // older session (e.g. its summary) are ignored.
  function followSession(doc) {
    if (!doc.session || !doc.wall) return true;
    if (doc.session === state.session) return true;
    if (doc.kind === "summary" || doc.kind === "progress") {
      if (state.session !== null) return false;
    } else if (doc.wall < state.sessionWall) {
      return false;
    }
    newSession(doc.session, doc.wall);
    return true;
  }

  function newSession(id, wall) {
    state.session = id;
    state.sessionWall = wall;
    state.seen = new Set();
    state.finished = false;
    state.phase = null;
    state.rep = 0;
    document.body.dataset.finished = "false";
    for (const b of document.querySelectorAll(".controls button")) b.disabled = false;
    $("summary").hidden = true;
    $("rep-result").hidden = true;
    $("cue").textContent = "";
    $("setup").hidden = true;
  }

  // ---------------------------------------------------------------- programme
  // A reminder time (local ISO, to the minute) as "18:00", or "18:00 on 2026-12-08" when
  // it is not today on this phone's clock.
  function when(iso) {
    const d = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    const today = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const day = iso.slice(0, 10);
    return day === today ? iso.slice(11, 16) : `${iso.slice(11, 16)} on ${day}`;
  }

  function onSchedule(doc) {
    $("schedule").hidden = false;
    $("schedule-today").textContent = doc.due_today
      ? `Today: ${doc.done_today} of ${doc.due_today} sessions done`
      : `Today: ${doc.done_today} session${doc.done_today === 1 ? "" : "s"} done, none due`;
    $("schedule-next").textContent = doc.next_reminder
      ? `Next reminder: ${when(doc.next_reminder)}` : "No more reminders";
  }

  function onReminder(doc) {
    $("schedule").hidden = false;
    $("schedule-reminder").textContent = `${doc.text} (${when(doc.due)})`;
  }

  function onStatus(doc) {
    state.serviceOnline = doc.state === "online";
    if (doc.source) $("simulated").hidden = doc.source !== "simulated";
    if (typeof doc.joint_checked === "boolean") { state.jointChecked = doc.joint_checked; renderJoint(null); }
    if (typeof doc.recording === "string" && doc.recording) {
      // the session goes on but is no longer saved (e.g. the disk is full): say it plainly
      const why = doc.recording.split(";")[0];
      $("not-saved").textContent =
        `This session is no longer being saved (${why}). Keep going; please tell your clinician.`;
      $("not-saved").hidden = false;
    }
    setConn();
  }

  function onPhase(doc) {
    const fresh = state.phase !== doc.phase;
    state.phase = doc.phase;
    state.phaseT = doc.t;
    state.sessionT = Math.max(state.sessionT, doc.t);
    state.duration = typeof doc.duration_s === "number" ? doc.duration_s : null;
    state.rep = doc.rep;
    state.reps = doc.reps;
    const h1 = $("phase");
    h1.textContent = PHASE_NAMES[doc.phase] || doc.phase;
    h1.dataset.phase = doc.phase;
    $("reps").textContent = doc.rep > 0 ? `Rep ${doc.rep} of ${doc.reps}` : `${doc.reps} ${doc.reps === 1 ? "rep" : "reps"}`;
    $("btn-pause").textContent = doc.phase === "paused" ? "Resume" : "Pause";
    $("btn-pause").dataset.command = doc.phase === "paused" ? "resume" : "pause";
    if (doc.phase === "done" || doc.phase === "stopped") finish();
    // set up: the reps begin (a page opened mid-session gets the retained set-up too)
    if (doc.phase === "waiting" || doc.rep > 0) $("setup").hidden = true;
    if (fresh && !$("cue").textContent && PHASE_CUE[doc.phase]) {
      const text = (state.cues[state.locale] || {})[PHASE_CUE[doc.phase]];
      if (text) showCue(text, "info");
    }
    renderTimer(null);
    if (!ACTIVE.has(doc.phase)) renderJoint(null);
    document.body.dataset.phase = doc.phase;
    if (doc.phase === "paused") { // no levels come while paused: the last one is stale
      $("fill").style.width = "0";
      $("level-text").textContent = "";
      $("zone").dataset.zone = "";
      $("zone").textContent = "Not measured while paused";
    }
  }

  function onLevel(doc) {
    state.sessionT = Math.max(state.sessionT, doc.t);
    if (doc.phase && doc.phase !== state.phase && state.phase === null) {
      $("phase").textContent = PHASE_NAMES[doc.phase] || doc.phase;
    }
    const [lo, hi] = doc.band;
    const phase = doc.phase || state.phase;
    // while the rest, the reference or the maximal contraction is measured, the effort is
    // in multiples of the rest noise and the band (in the protocol's unit) does not apply
    const measuring = MEASURING.has(phase);
    // while measuring, the bar's full width is a quarter above the highest effort seen so
    // far, so it rises and falls with the patient's effort (no band to scale it by yet)
    state.measuredPeak = measuring ? Math.max(state.measuredPeak, doc.intensity) : 0;
    const scale = measuring ? Math.max(state.measuredPeak * 1.25, 10) : Math.max(hi * 1.6, 1);
    const pct = (v) => `${Math.min(Math.max(v / scale, 0), 1) * 100}%`;
    const band = $("band");
    band.hidden = measuring;
    band.style.left = pct(lo);
    band.style.width = `${(Math.min(hi, scale) - lo) / scale * 100}%`;
    $("band-low").style.left = pct(lo);
    $("band-low").textContent = measuring ? "" : lo;
    $("band-high").style.left = `calc(${pct(hi)} - 1.6rem)`;
    $("band-high").textContent = measuring ? "" : hi;
    const zone = doc.intensity > hi ? "above" : doc.in_band ? "in" : "below";
    const fill = $("fill");
    fill.style.width = pct(doc.intensity);
    // outside a contraction, low is right (relaxed): no warning colour then
    fill.dataset.zone = !measuring && (ACTIVE.has(phase) || zone === "above") ? zone : "rest";
    const bar = $("bar");
    bar.setAttribute("aria-valuenow", String(Math.round(doc.intensity)));
    const unit = UNIT_WORDS[doc.unit] || "× rest";
    // percentages in whole numbers; multiples of the rest noise with one decimal
    const digits = doc.unit === "x_rest" || !UNIT_WORDS[doc.unit] ? 1 : 0;
    // (while measuring, a number in multiples of the rest noise means nothing to a patient)
    $("level-text").textContent = measuring ? "Measuring"
      : `${doc.intensity.toFixed(digits)} ${unit}`;
    const z = $("zone");
    if (ACTIVE.has(phase)) {
      z.dataset.zone = zone;
      z.textContent = zone === "in" ? "In the target" : zone === "above" ? "Too strong: ease off" : "Below the target";
    } else {
      z.dataset.zone = "";
      z.textContent = measuring ? "\u00a0" : `Target ${lo}–${hi} ${unit}`;  // keeps its line
    }
    renderTimer(doc);
    renderJoint(doc);
    sound(doc);
    if (bench) {
      // ?bench: (session time, received, repainted) in Unix ms for benchmarks/web_latency.py;
      // the frame that paints this bar runs its rendering right after its rAF callbacks,
      // so a task queued from rAF runs once the bar is painted
      const t = doc.t;
      const received = performance.timeOrigin + performance.now();
      requestAnimationFrame(() => setTimeout(() => {
        state.repaints.push([t, received, performance.timeOrigin + performance.now()]);
      }, 0));
    }
  }

  function renderTimer(level) {
    const label = $("timer-label"), value = $("timer"), note = $("timer-note");
    const phase = state.phase || (level && level.phase);
    note.textContent = "\u00a0";
    value.dataset.state = "running";
    if (phase === "holding" && level && typeof level.hold_remaining_s === "number") {
      label.textContent = "Hold for";
      value.textContent = `${level.hold_remaining_s.toFixed(1)} s`;
      if (!level.in_band) {
        value.dataset.state = "paused";
        note.textContent = "Outside the target zone";
      }
      return;
    }
    if (TIMED[phase] && state.duration !== null && phase !== "holding") {
      const left = Math.max(state.duration - (state.sessionT - state.phaseT), 0);
      label.textContent = `${TIMED[phase]} for`;
      value.textContent = `${left.toFixed(1)} s`;
      return;
    }
    if (phase === "holding") return; // keep the last hold value until the next level
    label.textContent = "\u00a0";
    value.textContent = "\u00a0";
    value.dataset.state = "idle";
  }

  function renderJoint(level) {
    const text = $("joint-text"), note = $("joint-note"), fill = $("joint-fill");
    if (state.jointChecked === false) {
      text.textContent = "";
      fill.style.width = "0";
      note.dataset.zone = "";
      note.textContent = "Joint movement is not checked (no motion sensor)";
      return;
    }
    if (level && typeof level.joint_deviation_deg === "number" && level.joint_limit_deg) {
      const dev = level.joint_deviation_deg, lim = level.joint_limit_deg;
      fill.style.width = `${Math.min(dev / lim * 0.8, 1) * 100}%`;
      const over = dev > lim;
      fill.dataset.zone = over ? "over" : "ok";
      text.textContent = `${dev.toFixed(1)}° of ${lim}° allowed`;
      note.dataset.zone = over ? "over" : "";
      note.textContent = over ? "Keep the joint still" : "Still: good";
      return;
    }
    fill.style.width = "0";
    text.textContent = "";
    note.dataset.zone = "";
    note.textContent = "Checked while you tense and hold";
  }

  function showCue(text, severity) {
    const el = $("cue");
    el.dataset.search = "";  // (a cue of the session replaces the search's instruction)
    el.dataset.severity = severity;
    el.textContent = text;
  }

  // How to set up: said with the first instruction of the session (a cue), so it keeps its
  // own place until the first repetition instead of being replaced at once; also retained
  // on its own topic (kind "setup"), so a page opened later shows it, while the
  // repetitions have not begun. Said once: the cue and its retained copy are one.
  function onSetup(doc) {
    if (state.rep > 0 || state.finished) return;
    if (!$("setup").hidden && $("setup").textContent === doc.text) return;
    $("setup").textContent = doc.text;
    $("setup").hidden = false;
    speak(doc);
  }

  function onCue(doc) {
    if (doc.id === "setup") { onSetup(doc); return; }
    if (!doc.text) {
      // the end of a warning ("cleared", naming the cue in `clears`): take it down if it
      // is still shown, and say nothing
      if (doc.clears && state.cueId === doc.clears) {
        state.cueId = "";
        showCue("", "info");
      }
      return;
    }
    state.cueId = doc.id;
    showCue(doc.text, doc.severity);
    state.locale = localeOf(doc) || state.locale;
    speak(doc);
    // browsers allow vibration only after the patient has touched the page
    const touched = !navigator.userActivation || navigator.userActivation.hasBeenActive;
    if (doc.haptic && navigator.vibrate && touched) navigator.vibrate(300);
  }

  function localeOf(doc) {
    for (const [loc, texts] of Object.entries(state.cues)) {
      if (texts[doc.id] === doc.text) return loc;
    }
    return null;
  }

  function fmt(v, digits, unit) {
    return typeof v === "number" ? `${v.toFixed(digits)}${unit}` : "–";
  }

  function repLine(r) {
    if (r.skipped) return "skipped";
    const parts = [`held ${fmt(r.hold_s, 1, " s")}`];
    if (typeof r.in_band === "number") parts.push(`${Math.round(r.in_band * 100)}% in the target`);
    if (typeof r.rom_gain_deg === "number") parts.push(`range +${r.rom_gain_deg.toFixed(1)}°`);
    const v = (r.violations || []).map((x) => VIOLATIONS[x] || x.replace(/_/g, " "));
    parts.push(v.length ? `⚠ ${v.join(", ")}` : "no problems");
    return parts.join(" · ");
  }

  function onRep(doc) {
    $("rep-title").textContent = doc.skipped ? `Rep ${doc.rep} skipped` : `Rep ${doc.rep} done`;
    $("rep-body").textContent = doc.skipped ? "" : repLine(doc);
    $("rep-result").hidden = false;
  }

  function finish() {
    state.finished = true;
    document.body.dataset.finished = "true";
    for (const b of document.querySelectorAll(".controls button")) b.disabled = true;
  }

  function onSummary(doc) {
    finish();
    $("summary-title").textContent = doc.complete ? "Session complete" : "Session ended early";
    const items = [["Reps", `${doc.reps_done} of ${doc.reps_planned}`]];
    // no repetition finished: no hold to average ("0.0 s" read as a hold of nothing)
    if (doc.reps_done > 0) items.push(["Mean hold", fmt(doc.mean_hold_s, 1, " s")]);
    if (typeof doc.hold_quality === "number") items.push(["In the target", `${Math.round(doc.hold_quality * 100)}%`]);
    const last = (doc.reps || []).filter((r) => typeof r.rom_deg === "number").pop();
    if (last) items.push(["Range gained", `${last.rom_deg.toFixed(1)}°`]);
    const counts = new Map();
    for (const x of doc.violations || []) counts.set(x, (counts.get(x) || 0) + 1);
    const v = [...counts].map(([x, n]) => `${VIOLATIONS[x] || x.replace(/_/g, " ")}${n > 1 ? ` (${n}×)` : ""}`);
    // why it ended early (pain, the patient's stop …), said before any praise; "nothing:
    // well done" only for a session that was done, never after a stop for pain
    if (!doc.complete && doc.stop_reason) items.push(["Ended", doc.stop_reason]);
    if (v.length) items.push(["To work on", v.join(", ")]);
    else if (doc.complete) items.push(["To work on", "nothing: well done"]);
    const dl = $("summary-list");
    dl.replaceChildren();
    for (const [k, val] of items) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = val;
      dl.append(dt, dd);
    }
    const ol = $("summary-reps");
    ol.replaceChildren();
    for (const r of doc.reps || []) {
      const li = document.createElement("li"); li.textContent = repLine(r); ol.append(li);
    }
    $("summary").hidden = false;
    $("rep-result").hidden = true;
    setConn();
  }

  function onDevice(sub, doc) {
    const [, dev, what] = sub.split("/");
    const d = (state.devices[dev] = state.devices[dev] || {});
    d[what] = doc;
    const devs = Object.values(state.devices);
    const batteries = devs.filter((x) => x.battery).map((x) => x.battery.percent);
    const bat = $("battery");
    if (batteries.length) {
      const low = Math.min(...batteries);
      bat.hidden = false;
      bat.textContent = `Battery ${Math.round(low)}%`;
      bat.dataset.ok = String(low >= 20);
    }
    // before the session: the service is looking for the sensor, the patient must switch
    // it on (said by the page only: the coach has not started)
    const searching = devs.some((x) => x.availability && x.availability.state === "connecting");
    const el = $("cue");
    if (state.phase === null && searching) {
      const text = (state.cues[state.locale] || {}).sensor_search;
      if (text) { showCue(text, "info"); el.dataset.search = "1"; }
    } else if (el.dataset.search === "1" && !searching) {
      el.textContent = ""; el.dataset.search = "";
    }
    const quality = devs.filter((x) => x.quality).map((x) => x.quality);
    const away = devs.filter((x) => x.availability && x.availability.state !== "online");
    const sig = $("signal");
    if (quality.length || away.length) {
      const bad = quality.filter((q) => !q.ok);
      sig.hidden = false;
      sig.dataset.ok = String(!bad.length && !away.length);
      if (away.length) sig.textContent = `Sensor ${away[0].availability.state}`;
      else if (bad.length) {
        const q = bad[0];
        // the issues in a patient's words, as the service words them (their names if not)
        const why = (q.words || q.issues || []).join(", ") ||
          (typeof q.packet_loss === "number" ? `${Math.round(q.packet_loss * 100)}% lost` : "");
        sig.textContent = `Signal poor${why ? `: ${why}` : ""}`;
      } else sig.textContent = "Signal good";
    }
  }

  // ---------------------------------------------------------------- control
  function send(command, value) {
    if (!state.client || !state.connected) {
      ack("Not connected: the command was not sent.", false);
      return;
    }
    const id = `page-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
    const msg = { schema: 1, command, id };
    if (value !== undefined) msg.value = value;
    state.pending.set(id, command);
    state.client.publish(`${state.prefix}/control`, JSON.stringify(msg), { qos: 1, retain: false });
    ack(`Sent: ${command.replace("_", " ")}${value !== undefined ? ` ${value}` : ""}…`, null);
  }

  function ack(text, accepted) {
    const el = $("ack");
    el.textContent = text;
    el.dataset.accepted = accepted === null ? "" : String(accepted);
  }

  function onAck(doc) {
    if (!state.pending.has(doc.id)) return; // another page's command
    state.pending.delete(doc.id);
    const what = (doc.command || "").replace("_", " ");
    if (doc.accepted) ack(`✓ ${what} accepted`, true);
    else ack(`Refused (${what}): ${doc.reason || "no reason given"}`, false);
  }

  for (const b of document.querySelectorAll("button[data-command]")) {
    b.addEventListener("click", () => send(b.dataset.command));
  }
  const dialog = $("pain-dialog");
  const scale = $("pain-scale");
  for (let i = 0; i <= 10; i++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(i);
    b.id = `pain-${i}`;
    b.addEventListener("click", () => { dialog.close(); send("pain", i); });
    scale.append(b);
  }
  $("btn-pain").addEventListener("click", () => dialog.showModal());

  // ---------------------------------------------------------------- speech and sound
  const speakBox = $("opt-speak"), soundBox = $("opt-sound");
  speakBox.checked = localStorage.getItem("isofeedback.speak") === "1";
  speakBox.addEventListener("change", () => localStorage.setItem("isofeedback.speak", speakBox.checked ? "1" : "0"));

  function speak(doc) {
    if (!speakBox.checked || !("speechSynthesis" in window)) return;
    const u = new SpeechSynthesisUtterance(doc.text);
    u.lang = state.locale;
    if (doc.severity === "warning") speechSynthesis.cancel(); // a warning goes first
    speechSynthesis.speak(u);
  }

  // Sonification: a soft tone whose pitch follows effort against the band (low below,
  // steady in it, high above), with a tremolo that grows as the joint nears its limit;
  // silent outside contracting/holding. Lets the patient watch the joint, not the screen.
  let audio = null;
  soundBox.addEventListener("change", () => {
    if (soundBox.checked && !audio) {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      const lfo = ctx.createOscillator(), depth = ctx.createGain();
      osc.type = "sine"; gain.gain.value = 0; lfo.frequency.value = 6; depth.gain.value = 0;
      lfo.connect(depth).connect(gain.gain);
      osc.connect(gain).connect(ctx.destination);
      osc.start(); lfo.start();
      audio = { ctx, osc, gain, depth };
    }
    if (!soundBox.checked && audio) audio.gain.gain.setTargetAtTime(0, audio.ctx.currentTime, 0.05);
  });

  function sound(level) {
    if (!audio || !soundBox.checked) return;
    const now = audio.ctx.currentTime;
    const active = ACTIVE.has(level.phase);
    const [lo, hi] = level.band;
    const mid = (lo + hi) / 2, half = Math.max((hi - lo) / 2, 1e-6);
    const offset = Math.max(Math.min((level.intensity - mid) / half, 3), -3); // -1..1 in band
    audio.osc.frequency.setTargetAtTime(440 * 2 ** (offset / 3), now, 0.03);
    audio.gain.gain.setTargetAtTime(active ? 0.12 : 0, now, 0.05);
    const dev = typeof level.joint_deviation_deg === "number" && level.joint_limit_deg
      ? Math.min(level.joint_deviation_deg / level.joint_limit_deg, 1.5) : 0;
    audio.depth.gain.setTargetAtTime(active ? Math.min(dev, 1) * 0.1 : 0, now, 0.05);
  }

  setConn();
  renderJoint(null);
  start().catch((err) => {
    $("conn").textContent = `Cannot start: ${err}`;
  });
})();
