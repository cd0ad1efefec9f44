// openvna explorer: plain JavaScript over the archive's own DICOMweb (QIDO-RS, WADO-RS,
// STOW-RS, DELETE), FHIR (Patient search), the few /ui/api endpoints and the admin API's
// remote nodes and jobs (send to a remote modality). No build step.
// Every value from the archive is put in the page as text (textContent), never as markup.
"use strict";

const DW = "/dicomweb";
const view = () => document.getElementById("view");
const show = (...nodes) => view().replaceChildren(...nodes.filter(Boolean));

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function value(ds, tag) {
  const element = ds[tag];
  if (!element || !element.Value || !element.Value.length) return "";
  const first = element.Value[0];
  if (first && typeof first === "object") return first.Alphabetic || "";
  return element.Value.map(String).join("\\");
}

function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

async function request(url, options = {}) {
  const response = await fetch(url, {
    ...options,
    headers: { Accept: "application/dicom+json, application/json", ...(options.headers || {}) },
  });
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${response.status}: ${body.error || response.statusText}`);
  }
  if (response.status === 204) return [];
  const text = await response.text();
  return text ? JSON.parse(text) : [];
}

function failure(error) {
  if (error === STALE) return;
  show(el("p", { class: "error", role: "alert" }, String(error.message || error)));
}

// A view loads, then shows: one left behind by a newer view (the address changed while it
// loaded) must not show over it. Each view takes the view count when it starts and checks it
// after every load.
const STALE = new Error("stale view");
let views = 0;

function loading() {
  const mine = ++views;
  return (result) => {
    if (mine !== views) throw STALE;
    return result;
  };
}

function dicomDate(text) {
  return text ? text.replaceAll("-", "") : "";
}

function shownDate(text) {
  return text && text.length === 8 ? `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6)}` : text;
}

// ---- Studies: search with paging -------------------------------------------------------

const FIELDS = [
  ["name", "Patient name"], ["id", "Patient ID"], ["from", "Date from", "date"],
  ["to", "Date to", "date"], ["modality", "Modality"], ["accession", "Accession"],
];

async function studiesView(params) {
  const size = Number(params.get("size") || 25);
  const page = Number(params.get("page") || 0);
  const form = el("form", { class: "search", onsubmit: (event) => {
    event.preventDefault();
    const data = new URLSearchParams();
    for (const [key, val] of new FormData(event.target)) if (val) data.set(key, val);
    location.hash = "#/studies?" + data;
  } },
  FIELDS.map(([name, label, type]) => el("label", {}, label,
    el("input", { name, type: type || "text", value: params.get(name) || "" }))),
  el("label", {}, "Per page", el("select", { name: "size" },
    [2, 10, 25, 100].map((n) => el("option", { value: n, selected: n === size }, n)))),
  el("button", { type: "submit" }, "Search"));
  const query = new URLSearchParams({ limit: size + 1, offset: page * size, fuzzymatching: "true" });
  const name = params.get("name");
  if (name) query.set("PatientName", /[*?]/.test(name) ? name : name + "*");
  if (params.get("id")) query.set("PatientID", params.get("id"));
  if (params.get("from") || params.get("to")) {
    query.set("StudyDate", `${dicomDate(params.get("from"))}-${dicomDate(params.get("to"))}`);
  }
  if (params.get("modality")) query.set("ModalitiesInStudy", params.get("modality").toUpperCase());
  if (params.get("accession")) query.set("AccessionNumber", params.get("accession"));
  for (const field of ["PatientBirthDate", "StudyDescription", "NumberOfStudyRelatedSeries"]) {
    query.append("includefield", field);
  }
  const current = loading();
  show(form, el("p", { class: "muted" }, "Searching..."));
  const studies = current(await request(`${DW}/studies?${query}`));
  const more = studies.length > size;
  const rows = studies.slice(0, size).map((ds) => el("tr", {
    class: "row", "data-study": value(ds, "0020000D"),
    onclick: () => { location.hash = "#/study/" + value(ds, "0020000D"); },
  },
  el("td", {}, value(ds, "00100010")), el("td", {}, value(ds, "00100020")),
  el("td", {}, shownDate(value(ds, "00080020"))), el("td", {}, value(ds, "00081030")),
  el("td", {}, value(ds, "00080061")), el("td", {}, value(ds, "00080050")),
  el("td", {}, `${value(ds, "00201206")} / ${value(ds, "00201208")}`)));
  const go = (delta) => () => {
    params.set("page", page + delta);
    location.hash = "#/studies?" + params;
  };
  show(form,
    el("table", { id: "studies" },
      el("thead", {}, el("tr", {}, ["Patient", "ID", "Date", "Description", "Modalities",
        "Accession", "Series / instances"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)),
    el("div", { class: "pager" },
      el("button", { id: "prev", disabled: page === 0, onclick: go(-1) }, "Previous"),
      el("span", { id: "page" }, `Page ${page + 1}`),
      el("button", { id: "next", disabled: !more, onclick: go(1) }, "Next")),
    rows.length ? null : el("p", {}, "No study matches."));
}

// ---- Patients: FHIR Patient search, paged by the Bundle's next links ----------------------

async function patientsView(params, bundleUrl) {
  const form = el("form", { class: "search", onsubmit: (event) => {
    event.preventDefault();
    const name = new FormData(event.target).get("name");
    location.hash = "#/patients?" + new URLSearchParams(name ? { name } : {});
  } },
  el("label", {}, "Patient name", el("input", { name: "name", value: params.get("name") || "" })),
  el("button", { type: "submit" }, "Search"));
  const first = new URLSearchParams({ _count: 25 });
  if (params.get("name")) first.set("name", params.get("name"));
  const current = loading();
  const bundle = current(await request(bundleUrl || `/fhir/Patient?${first}`,
    { headers: { Accept: "application/fhir+json" } }));
  const rows = (bundle.entry || []).map(({ resource }) => {
    const id = ((resource.identifier || [])[0] || {}).value || "";
    const name = (resource.name || [])[0] || {};
    return el("tr", { class: "row", onclick: () => {
      location.hash = "#/studies?" + new URLSearchParams({ id });
    } },
    el("td", {}, [name.family, ...(name.given || [])].filter(Boolean).join(" ")),
    el("td", {}, id), el("td", {}, resource.birthDate || ""), el("td", {}, resource.gender || ""));
  });
  const next = (bundle.link || []).find((link) => link.relation === "next");
  show(form,
    el("table", { id: "patients" }, el("thead", {}, el("tr", {},
      ["Name", "Patient ID", "Birth date", "Sex"].map((h) => el("th", {}, h)))), el("tbody", {}, rows)),
    el("div", { class: "pager" }, el("button", { id: "next", disabled: !next,
      onclick: () => patientsView(params, new URL(next.url).pathname + new URL(next.url).search)
        .catch(failure) }, "Next")));
}

// ---- A study: actions, series with thumbnails --------------------------------------------

function linkField(label, url) {
  const input = el("input", { readonly: true, value: url, size: 60, "data-link": label });
  return el("div", {}, el("label", {}, label + " ", input), " ",
    el("button", { onclick: async () => {
      input.select();
      try { await navigator.clipboard.writeText(url); } catch (e) { document.execCommand("copy"); }
      toast(`${label} link copied`);
    } }, "Copy"));
}

async function studyView(study) {
  const current = loading();
  const [ds] = current(await request(`${DW}/studies?StudyInstanceUID=${study}&includefield=all`));
  if (!ds) throw new Error("404: this study is not in the archive");
  const series = current(await request(`${DW}/studies/${study}/series`));
  const origin = location.origin;
  const actions = el("div", { class: "actions" },
    el("a", { class: "button", href: `/viewer/viewer?StudyInstanceUIDs=${study}`, target: "_blank",
      rel: "noopener", id: "open-viewer" }, "Open in viewer"),
    el("a", { class: "button", href: `/ui/api/studies/${study}/archive`, download: `${study}.zip`,
      id: "download" }, "Download ZIP (DICOMDIR)"),
    el("button", { id: "anonymize", onclick: async (event) => {
      event.target.disabled = true;
      toast("Anonymizing...");
      try {
        const made = await request(`/ui/api/studies/${study}/anonymize`, { method: "POST" });
        toast(`Anonymized copy stored: ${made.instances} instances`);
        location.hash = "#/study/" + made.study;
      } catch (error) { toast(error.message); event.target.disabled = false; }
    } }, "Anonymize (new study)"),
    el("button", { id: "delete", class: "danger", onclick: () => remove(`${DW}/studies/${study}`, "#/") },
      "Delete study"),
    sendControl({ StudyInstanceUID: study }));
  show(
    el("h2", {}, `${value(ds, "00100010")} · ${value(ds, "00081030") || "(no description)"}`),
    el("p", { class: "muted" }, `Patient ID ${value(ds, "00100020")} · ${shownDate(value(ds, "00080020"))}`
      + ` · accession ${value(ds, "00080050")} · ${study}`),
    actions,
    linkField("IID", `${origin}/IHEInvokeImageDisplay?requestType=STUDY&studyUID=${study}`),
    linkField("WADO-RS", `${origin}${DW}/studies/${study}`),
    linkField("FHIR", `${origin}/fhir/ImagingStudy?identifier=urn:dicom:uid|urn:oid:${study}`),
    el("h3", {}, "Series"),
    el("div", { class: "grid", id: "series" }, series.map((s) => card(
      `${DW}/studies/${study}/series/${value(s, "0020000E")}/thumbnail?viewport=140,140`,
      [`${value(s, "00080060")} #${value(s, "00200011")}`, value(s, "0008103E"),
        `${value(s, "00201209")} instances`],
      "#/series/" + study + "/" + value(s, "0020000E")))));
}

function card(thumbnail, lines, target) {
  const image = el("img", { src: thumbnail, alt: "", loading: "lazy" });
  image.addEventListener("error", () => { image.style.visibility = "hidden"; });
  return el("div", { class: "card", onclick: () => { location.hash = target; } },
    image, lines.map((line) => el("div", {}, line)));
}

async function remove(url, after) {
  if (!confirm("Delete it from the archive? This cannot be undone.")) return;
  try {
    await request(url, { method: "DELETE" });
    toast("Deleted");
    location.hash = after;
  } catch (error) { toast(error.message); }
}

async function seriesView(study, series) {
  const current = loading();
  const instances = current(await request(`${DW}/studies/${study}/series/${series}/instances`));
  instances.sort((a, b) => Number(value(a, "00200013")) - Number(value(b, "00200013")));
  const base = `${DW}/studies/${study}/series/${series}`;
  show(
    el("p", {}, el("a", { href: "#/study/" + study }, "← study")),
    el("div", { class: "actions" }, el("button", { class: "danger", id: "delete",
      onclick: () => remove(base, "#/study/" + study) }, "Delete series"),
    sendControl({ StudyInstanceUID: study, SeriesInstanceUID: series })),
    el("div", { class: "grid", id: "instances" }, instances.map((i) => card(
      `${base}/instances/${value(i, "00080018")}/thumbnail?viewport=140,140`,
      [`#${value(i, "00200013")}`], `#/instance/${study}/${series}/${value(i, "00080018")}`))));
}

// ---- Send to a remote modality: the admin API's store job, followed to its end --------------

function sendControl(resource) {
  const choice = el("select", { id: "send-remote", "aria-label": "Remote node" },
    el("option", { value: "" }, "Send to…"));
  const button = el("button", { id: "send", disabled: true }, "Send");
  const bar = el("progress", { id: "send-progress", max: 1, value: 0, hidden: true });
  const stop = el("button", { id: "send-cancel", hidden: true }, "Cancel");
  const status = el("span", { id: "send-status", role: "status" });
  request("/api/remotes").then((remotes) => {
    for (const node of remotes) {
      choice.append(el("option", { value: node.aet }, `${node.aet} (${node.host}:${node.port})`));
    }
    if (!remotes.length) status.textContent = "No remote node is configured (/api/remotes).";
  }).catch((error) => { status.textContent = `Remote nodes unavailable: ${error.message}`; });
  choice.addEventListener("change", () => { button.disabled = !choice.value; });
  button.addEventListener("click", async () => {
    const aet = choice.value;
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = `Sending to ${aet}...`;
    try {
      const job = await followJob(await request(`/api/remotes/${encodeURIComponent(aet)}/store`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ resources: [resource] }),
      }), (running) => {
        stop.hidden = false;
        stop.onclick = () => request(`${running.url}/cancel`, { method: "POST" })
          .catch((error) => { status.textContent = `Cancel refused: ${error.message}`; });
        const { total, completed, failed, warning } = running.progress;
        bar.max = total || 1;
        bar.value = completed + failed + warning;
        status.textContent = `Sending to ${aet}: ${completed} of ${total || "?"} sent, ${failed} failed`;
      });
      const { completed, failed } = job.progress;
      status.textContent = job.state === "Success"
        ? `Sent ${completed} instance(s) to ${aet}`
        : `Sending to ${aet} failed: ${job.error || ""} (${completed} sent, ${failed} failed)`;
    } catch (error) {
      status.textContent = `Sending to ${aet} failed: ${error.message}`;
    } finally {
      button.disabled = false;
      stop.hidden = true;
    }
  });
  return el("span", { class: "send" }, choice, button, stop, bar, status);
}

async function followJob(job, onProgress) {
  while (job.state === "Pending" || job.state === "Running") {
    onProgress(job);
    await new Promise((done) => setTimeout(done, 500));
    job = await request(job.url);
  }
  onProgress(job);
  return job;
}

// ---- An instance: its tags as a tree -----------------------------------------------------

function tagTable(rows) {
  return el("table", { class: "tags" }, el("tbody", {}, rows.map((row) => el("tr", {},
    el("td", {}, row.tag), el("td", {}, row.keyword), el("td", {}, row.vr),
    el("td", {}, row.items ? row.items.map((item, n) =>
      el("details", {}, el("summary", {}, `Item ${n + 1}`), tagTable(item))) : row.value)))));
}

async function instanceView(study, series, sop) {
  const current = loading();
  const rows = current(await request(`/ui/api/studies/${study}/series/${series}/instances/${sop}/tags`));
  show(
    el("p", {}, el("a", { href: `#/series/${study}/${series}` }, "← series")),
    el("div", { class: "actions" },
      el("a", { class: "button", target: "_blank", rel: "noopener",
        href: `/viewer/viewer?StudyInstanceUIDs=${study}&initialSOPInstanceUID=${sop}` }, "Open in viewer"),
      el("button", { class: "danger", id: "delete",
        onclick: () => remove(`${DW}/studies/${study}/series/${series}/instances/${sop}`,
          `#/series/${study}/${series}`) }, "Delete instance")),
    el("div", { id: "tags" }, tagTable(rows)));
}

// ---- Upload: STOW-RS with progress -------------------------------------------------------

function upload(files) {
  if (!files.length) return;
  const boundary = "openvna-" + Math.random().toString(16).slice(2);
  const parts = [];
  for (const file of files) {
    parts.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, file, "\r\n");
  }
  parts.push(`--${boundary}--\r\n`);
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  bar.hidden = false;
  bar.value = 0;
  status.textContent = `Uploading ${files.length} file(s)...`;
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `${DW}/studies`);
  xhr.setRequestHeader("Content-Type", `multipart/related; type="application/dicom"; boundary=${boundary}`);
  xhr.setRequestHeader("Accept", "application/dicom+json");
  xhr.upload.onprogress = (event) => {
    if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
  };
  xhr.onload = () => {
    bar.value = 100;
    let body = {};
    try { body = JSON.parse(xhr.responseText || "{}"); } catch (e) { body = {}; }
    const stored = ((body["00081199"] || {}).Value || []).length;
    const failed = ((body["00081198"] || {}).Value || []).length;
    status.textContent = xhr.status < 300 || stored
      ? `${stored} stored, ${failed} failed (HTTP ${xhr.status})`
      : `Upload refused: HTTP ${xhr.status} ${body.error || ""}`;
    render();
  };
  xhr.onerror = () => { status.textContent = "Upload failed: the server could not be reached"; };
  xhr.send(new Blob(parts));
}

function setUpUpload() {
  const zone = document.getElementById("upload");
  document.getElementById("files").addEventListener("change", (event) => upload([...event.target.files]));
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    upload([...event.dataTransfer.files]);
  });
}

// ---- Routing -----------------------------------------------------------------------------

function render() {
  const [path, search] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  let shown;
  if (parts[0] === "study") shown = studyView(parts[1]);
  else if (parts[0] === "series") shown = seriesView(parts[1], parts[2]);
  else if (parts[0] === "instance") shown = instanceView(parts[1], parts[2], parts[3]);
  else if (parts[0] === "patients") shown = patientsView(params);
  else shown = studiesView(params);
  shown.catch(failure);
}

window.addEventListener("hashchange", render);
window.addEventListener("DOMContentLoaded", () => { setUpUpload(); render(); });
