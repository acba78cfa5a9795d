/* Draws a task form from its JSON Schema and UI hints (rjsf-style "ui:order", "ui:widget",
 * "ui:help", "ui:placeholder", "ui:enumNames"), with the server's field errors in place.
 * The form posts as plain HTML; the server coerces and validates (app/services/forms.py). */
(function () {
  "use strict";
  var specNode = document.getElementById("form-spec");
  var root = document.getElementById("form-fields");
  if (!specNode || !root) { return; }
  var spec = JSON.parse(specNode.textContent);
  var schema = spec.schema || {}, ui = spec.ui || {}, values = spec.values || {}, errors = spec.errors || {};
  var props = schema.properties || {};
  var required = schema.required || [];
  var yes = root.getAttribute("data-yes") || "Yes", no = root.getAttribute("data-no") || "No";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function hints(name) {
    var prop = props[name] || {}, own = ui[name] || {};
    return {
      widget: own["ui:widget"] || prop["x-widget"],
      help: own["ui:help"] || prop.description,
      placeholder: own["ui:placeholder"] || prop["x-placeholder"],
      enumNames: own["ui:enumNames"] || prop["x-enumNames"]
    };
  }

  function widgetOf(prop, hint) {
    if (hint.widget) { return hint.widget; }
    if (prop["enum"]) { return "select"; }
    if (prop.type === "boolean") { return "boolean"; }
    if (prop.type === "integer" || prop.type === "number") { return "number"; }
    if (prop.format === "date") { return "date"; }
    if (prop.format === "date-time") { return "datetime"; }
    if (prop.type === "array" || (prop.maxLength || 0) > 200) { return "textarea"; }  // arrays: one item a line
    return "text";
  }

  function control(name, prop, hint, value) {
    var widget = widgetOf(prop, hint), input, attrs = {name: name, id: name, "class": "form-control"};
    if (widget === "select" || widget === "boolean") {
      input = el("select", attrs);
      input.appendChild(el("option", {value: ""}, ""));
      var options = widget === "boolean" ? [["true", yes], ["false", no]] :
        prop["enum"].map(function (v, i) { return [String(v), (hint.enumNames || [])[i] || String(v)]; });
      options.forEach(function (o) {
        var opt = el("option", {value: o[0]}, o[1]);
        if (value !== undefined && value !== null && String(value) === o[0]) { opt.selected = true; }
        input.appendChild(opt);
      });
      return input;
    }
    if (widget === "textarea") {
      input = el("textarea", Object.assign(attrs, {rows: "4"}));
      input.value = value === undefined || value === null ? "" : Array.isArray(value) ? value.join("\n") : String(value);
    } else {
      var type = {number: "number", date: "date", datetime: "datetime-local", hidden: "hidden"}[widget] || "text";
      input = el("input", Object.assign(attrs, {type: type}));
      if (prop.type === "integer") { input.setAttribute("step", "1"); }
      if (prop.minimum !== undefined) { input.setAttribute("min", prop.minimum); }
      if (prop.maximum !== undefined) { input.setAttribute("max", prop.maximum); }
      if (prop.maxLength !== undefined && type === "text") { input.setAttribute("maxlength", prop.maxLength); }
      input.value = value === undefined || value === null ? "" : String(value);
    }
    if (hint.placeholder) { input.setAttribute("placeholder", hint.placeholder); }
    return input;
  }

  var order = (ui["ui:order"] || []).filter(function (n) { return n in props; });
  Object.keys(props).forEach(function (n) { if (order.indexOf(n) < 0) { order.push(n); } });
  var firstError = null;
  order.forEach(function (name) {
    var prop = props[name], hint = hints(name), error = errors[name];
    if (hint.widget === "hidden") {
      root.appendChild(control(name, prop, hint, values[name]));
      return;
    }
    var group = el("div", {"class": "form-group" + (error ? " has-error" : ""), "data-field": name});
    var label = el("label", {"for": name}, (prop.title || name) + (required.indexOf(name) >= 0 ? " *" : ""));
    group.appendChild(label);
    var input = control(name, prop, hint, values[name]);
    group.appendChild(input);
    if (hint.help) { group.appendChild(el("p", {"class": "help-block"}, hint.help)); }
    if (error) {
      group.appendChild(el("p", {"class": "help-block field-error", "data-field": name}, error));
      firstError = firstError || input;
      // Once the user changes the field, the old message no longer describes it.
      input.addEventListener("change", function () {
        group.classList.remove("has-error");
        var msg = group.querySelector(".field-error");
        if (msg) { msg.remove(); }
      }, {once: true});
    }
    root.appendChild(group);
  });
  if (firstError) { firstError.focus(); }
})();
