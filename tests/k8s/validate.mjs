// Validates Kubernetes objects (multi-document YAML files) against the published schemas shipped
// by npm's kubernetes-models (the API's OpenAPI definitions) and, for the custom resources medvault
// uses, @kubernetes-models/prometheus-operator and @kubernetes-models/cert-manager (their CRDs'
// schemas). Offline: the schemas are in node_modules, installed by `npm ci` from package-lock.json.
//
//   node validate.mjs FILE...    prints one line per object; exits 1 if any is invalid or unknown
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// apiVersion -> module holding its kinds.
function moduleFor(apiVersion) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${apiVersion}`;
  if (group === "cert-manager.io") return `@kubernetes-models/cert-manager/${apiVersion}`;
  return group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${apiVersion}`;
}

let failures = 0;
let count = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length) {
      console.log(`FAIL ${file}: YAML: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    count++;
    const what = `${file}: ${obj.apiVersion}/${obj.kind} ${obj.metadata?.name}`;
    let Model;
    try {
      Model = (await import(moduleFor(obj.apiVersion)))[obj.kind];
    } catch (e) {
      Model = undefined;
    }
    if (typeof Model !== "function") {
      console.log(`FAIL ${what}: no published schema for this apiVersion and kind`);
      failures++;
      continue;
    }
    try {
      new Model(obj).validate();
      console.log(`ok   ${what}`);
    } catch (e) {
      console.log(`FAIL ${what}: ${e.message}`);
      failures++;
    }
  }
}
console.log(`${count} objects, ${failures} invalid`);
process.exit(failures === 0 && count > 0 ? 0 : 1);
