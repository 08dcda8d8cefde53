/**
 * The `transient-jobs` CrossGuard policy pack: `pulumi preview --policy-pack policy` (from the
 * project root, after `npm ci`). The rules live in `rules.ts`, where the tests reach them.
 */
import { PolicyPack } from "@pulumi/policy";
import { POLICIES } from "./rules";

new PolicyPack("transient-jobs", { enforcementLevel: "mandatory", policies: POLICIES });
