"""The MEHR check catalogue: the error types that migration exception cases are raised against.

Plain Python data with no Django dependency, so it can be loaded by migrations, fixtures, management
commands and tests alike. Each check names the stage and category it belongs to, who acts first, whether
a migration retry can fix it once corrected, whether it blocks migration, the cohorts it applies to,
the MEHR version that introduced it (and the one that retired it, if any) and its ordered procedure.

Only two kinds of check send a case straight to exclusion proposed (``exclusion_category`` set):
missing master keys (CR001) and a supplier's statement that the installation cannot be migrated
(PM005). The other Excluded Categories of TMAD clause 18 (no WAN before migration, no WAN during
migration, migration attempts exhausted) are reached by the retry engine after repeated failures of
PM001 or CM001, never by a single raised check, so those checks carry ``exclusion_category=None``.
"""

from datetime import date
from typing import Literal, TypedDict

Stage = Literal[
    "MA_FILE_VALIDATION",
    "MA_RECORD_VALIDATION",
    "PRE_MIGRATION",
    "COMMUNICATIONS",
    "DATA_VALIDATION",
    "CREDENTIALS",
    "DEVICE_HAN",
    "COMMISSIONING",
    "POST_MIGRATION",
]
Category = Literal[
    "MA_FILE_REJECTED",
    "MA_RECORD_REJECTED",
    "PRE_MIGRATION",
    "COMMUNICATIONS",
    "DATA_VALIDATION",
    "CREDENTIALS_SECURITY",
    "DEVICE_HAN",
    "COMMISSIONING",
    "POST_MIGRATION",
]
Party = Literal["DCC", "USER", "SMSO", "DCO"]
Cohort = Literal["IOC", "MOC_MDS", "MOC_SECURE", "FOC"]
ExcludedCategory = Literal[
    "MISSING_MASTER_KEYS",
    "NO_WAN_BEFORE_MIGRATION",
    "NO_WAN_DURING_MIGRATION",
    "MIGRATION_ATTEMPTS_EXHAUSTED",
    "SUPPLIER_DECLARED_UNMIGRATABLE",
]
StepKind = Literal["INVESTIGATE", "CORRECT"]

STAGES: tuple[Stage, ...] = (
    "MA_FILE_VALIDATION",
    "MA_RECORD_VALIDATION",
    "PRE_MIGRATION",
    "COMMUNICATIONS",
    "DATA_VALIDATION",
    "CREDENTIALS",
    "DEVICE_HAN",
    "COMMISSIONING",
    "POST_MIGRATION",
)
CATEGORIES: tuple[Category, ...] = (
    "MA_FILE_REJECTED",
    "MA_RECORD_REJECTED",
    "PRE_MIGRATION",
    "COMMUNICATIONS",
    "DATA_VALIDATION",
    "CREDENTIALS_SECURITY",
    "DEVICE_HAN",
    "COMMISSIONING",
    "POST_MIGRATION",
)
PARTIES: tuple[Party, ...] = ("DCC", "USER", "SMSO", "DCO")
COHORTS: tuple[Cohort, ...] = ("IOC", "MOC_MDS", "MOC_SECURE", "FOC")
# Categories for which DCC stops pursuing migration (TMAD clause 18 style).
EXCLUDED_CATEGORIES: tuple[ExcludedCategory, ...] = (
    "MISSING_MASTER_KEYS",
    "NO_WAN_BEFORE_MIGRATION",
    "NO_WAN_DURING_MIGRATION",
    "MIGRATION_ATTEMPTS_EXHAUSTED",
    "SUPPLIER_DECLARED_UNMIGRATABLE",
)
STEP_KINDS: tuple[StepKind, ...] = ("INVESTIGATE", "CORRECT")

DEFAULT_SLA_RESPONSE_DAYS = 5
DEFAULT_SLA_RESOLUTION_DAYS = 5
SITE_VISIT_SLA_RESOLUTION_DAYS = 10


class MehrVersionData(TypedDict):
    version: str
    published_on: date
    effective_from: date
    notes: str


class ProcedureStepData(TypedDict):
    party: Party
    kind: StepKind
    text: str


class CheckData(TypedDict):
    code: str
    stage: Stage
    category: Category
    title: str
    description: str
    acting_party: Party
    retryable: bool
    blocks_migration: bool
    cohorts: list[Cohort]
    introduced_in: str
    retired_in: str | None
    exclusion_category: ExcludedCategory | None
    sla_response_days: int
    sla_resolution_days: int
    steps: list[ProcedureStepData]


def _inv(party: Party, text: str) -> ProcedureStepData:
    return {"party": party, "kind": "INVESTIGATE", "text": text}


def _cor(party: Party, text: str) -> ProcedureStepData:
    return {"party": party, "kind": "CORRECT", "text": text}


def _all_cohorts() -> list[Cohort]:
    return list(COHORTS)


MEHR_VERSIONS: list[MehrVersionData] = [
    {
        "version": "1.0",
        "published_on": date(2019, 6, 3),
        "effective_from": date(2019, 7, 1),
        "notes": "Initial MEHR check catalogue for MA file and record validation, pre-migration, "
        "communications, data validation, credentials, device HAN, commissioning and post-migration "
        "failures. MA110 applies to IOC, MOC MDS and FOC.",
    },
    {
        "version": "1.1",
        "published_on": date(2020, 6, 1),
        "effective_from": date(2020, 7, 1),
        "notes": "Added MR005 (over daily allocation) with the Migration Scaling Methodology, MR007 "
        "(installation already migrated), CM003 (wake SMS not delivered), SM003 (Responsible Supplier not "
        "registered) and PS003 (device configuration differs after migration).",
    },
    {
        "version": "2.0",
        "published_on": date(2021, 2, 15),
        "effective_from": date(2021, 3, 15),
        "notes": "Retired DV005 (firmware build variant mismatch) and HN003 (IHD not responding to HAN poll) "
        "to unblock installations; open cases blocked only by them are re-evaluated. Added PM004 and DV006 "
        "for dormant installations, whose schedule DCC drives.",
    },
    {
        "version": "2.1",
        "published_on": date(2022, 4, 4),
        "effective_from": date(2022, 5, 3),
        "notes": "Extended MA110 (DMC not on the EPCL) to MOC Secure, so it now applies to all cohorts. "
        "Added PM005 (supplier declared installation unmigratable), which goes straight to exclusion "
        "proposed.",
    },
]


CHECKS: list[CheckData] = [
    # ------------------------------------------------------------------ MA file validation
    {
        "code": "MF001",
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "title": "MA file format invalid",
        "description": "The MA file could not be parsed against the MA file specification, so DCC rejected "
        "the whole file and validated none of its records. DCC detects this at file-level validation of the "
        "header, record layout, field formats and trailer record count. No installation in the file is "
        "scheduled until a corrected file is accepted.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Validate the rejected MA file against the MA file specification of the MEHR "
                "version in force, checking header, record layout, field formats and trailer record count.",
            ),
            _inv(
                "USER",
                "Compare the line and field named in the DCC rejection notice with the output of "
                "your MA file generation job to find the defect.",
            ),
            _cor(
                "USER",
                "Fix the MA file generation fault and resubmit the MA file with its password file "
                "under a new file reference.",
            ),
            _inv(
                "DCC",
                "Confirm in MCC that the resubmitted MA file passed file-level validation and record "
                "the new file reference on the case.",
            ),
        ],
    },
    {
        "code": "MF002",
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "title": "Password file mismatch",
        "description": "The password file sent with the MA file was missing, could not be matched to the MA "
        "file, or did not open it, so DCC rejected the MA file. DCC detects this at file-level validation "
        "before any record is read. No installation in the file is scheduled until a matching pair of files "
        "is accepted.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check that the password file was sent in the same submission as the MA file and "
                "names the same MA file reference.",
            ),
            _inv(
                "USER",
                "Check that the password in the password file is the one used to protect this MA "
                "file and not one from an earlier submission.",
            ),
            _cor("USER", "Resubmit the MA file together with a regenerated password file that matches it."),
            _inv(
                "DCC",
                "Confirm in MCC that the file pair arrived together and passed file-level "
                "validation, and record the new file reference on the case.",
            ),
        ],
    },
    {
        "code": "MF003",
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "title": "Unknown or unauthorised sender",
        "description": "The MA file came from a sender DCC does not recognise, or from a SEC party that is "
        "not authorised as the Requesting Party for migration. DCC detects this by checking the sender "
        "identity against registered Users and their migration roles. The file is rejected unread and no "
        "installation in it is scheduled.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check which SEC party identity and sending account your system used for the MA "
                "file submission.",
            ),
            _inv(
                "USER",
                "Confirm that this SEC party is registered with DCC as the Requesting Party for "
                "migration and that the sending account is still active.",
            ),
            _inv(
                "DCC",
                "Check the sender registration record in MCC and tell the User which identity was "
                "received and why it was refused.",
            ),
            _cor(
                "USER",
                "Resubmit the MA file from the authorised sending account, or complete the "
                "Requesting Party registration with DCC first.",
            ),
        ],
    },
    {
        "code": "MF004",
        "stage": "MA_FILE_VALIDATION",
        "category": "MA_FILE_REJECTED",
        "title": "Duplicate MA file reference",
        "description": "The MA file reference was already used by an earlier MA file from the same User, so "
        "DCC rejected the file to avoid processing the same installations twice. DCC detects this by "
        "comparing the file reference with those of files already received. Installations in the earlier "
        "accepted file are unaffected.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check whether the MA file is a resend of a file DCC already accepted by comparing "
                "its file reference and records with your submission log.",
            ),
            _inv(
                "USER",
                "Check the DCC acknowledgement for the earlier file to see which of its records "
                "were accepted or rejected.",
            ),
            _cor(
                "USER",
                "Resubmit only the records that still need migrating in a new MA file with a new "
                "file reference, or close the case if the earlier file already covers them.",
            ),
        ],
    },
    # ------------------------------------------------------------------ MA record validation
    {
        "code": "MA110",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Device model combination not on the EPCL",
        "description": "The device model combination (DMC) in the MA record, the models and firmware "
        "versions of the ESME, GSME and CH, is not on the Eligible Product Combinations List (EPCL) for the "
        "migration date. DCC detects this at record-level validation by matching the DMC against the EPCL "
        "in force. The installation cannot migrate until its DMC is added to the EPCL or its devices are "
        "changed to an eligible combination. The check applied to IOC, MOC MDS and FOC from their start and "
        "was extended to MOC Secure in MEHR 2.1 (2022), so it now covers all cohorts.",
        "acting_party": "DCC",
        "retryable": False,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the DMC in the rejected MA record, device by device with model and firmware "
                "version, against the EPCL version in force on the migration date.",
            ),
            _inv(
                "DCC",
                "Check whether the DMC is under assessment for addition to the EPCL and tell the "
                "User the failed DMC, the EPCL version used and any expected EPCL release.",
            ),
            _inv(
                "USER",
                "Check your asset records and the SMSO inventory to confirm that the DMC in the MA "
                "record is what is actually installed at the MPxN.",
            ),
            _cor(
                "USER",
                "Correct the MA record and submit it in a new MA file if the recorded DMC was "
                "wrong, or book a site visit to exchange the ineligible device if it was right.",
            ),
            _cor(
                "DCC",
                "Re-validate the installation when a new EPCL release takes effect and release it "
                "for scheduling if its DMC is now eligible.",
            ),
        ],
    },
    {
        "code": "MR001",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Duplicate MPxN in MA file",
        "description": "The same MPAN or MPRN appears in more than one record of the MA file, or in a record "
        "already accepted and not yet migrated. DCC detects this at record-level validation by checking "
        "each MPxN against the file and the open migration pipeline. The duplicate records are rejected and "
        "the installation is not scheduled until one clean record is submitted.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Search the MA file and your earlier accepted MA files for every record carrying "
                "the rejected MPAN or MPRN.",
            ),
            _inv(
                "USER",
                "Check your registration data to decide which record holds the correct devices for "
                "that MPxN.",
            ),
            _cor(
                "USER",
                "Remove the duplicate and resubmit a single correct record for the MPxN in a new MA file.",
            ),
        ],
    },
    {
        "code": "MR002",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Duplicate device in MA file",
        "description": "The same device EUI-64 appears in more than one MA record, or is already linked to a "
        "different installation awaiting migration. DCC detects this at record-level validation by checking "
        "every ESME, GSME, CH, PPMID and IHD identifier across the file and the open pipeline. All records "
        "carrying the duplicated device are rejected until the User says where it is installed.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Search your MA files for every record that carries the rejected EUI-64 and list "
                "the MPxN of each.",
            ),
            _inv(
                "USER",
                "Check your asset records and the SMSO inventory to establish at which MPxN the "
                "device with that EUI-64 is installed.",
            ),
            _cor(
                "USER",
                "Correct the device EUI-64 on the wrong record and resubmit the affected records in "
                "a new MA file.",
            ),
            _inv(
                "DCC",
                "Confirm in MCC that the resubmitted records pass record-level validation and record "
                "the new file reference on the case.",
            ),
        ],
    },
    {
        "code": "MR003",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Device unknown to the SMSO",
        "description": "A device EUI-64 in the MA record is not in the SMSO inventory for this installation, "
        "so DCC cannot take it over from the SMSO. DCC detects this by reconciling each record with the "
        "device data the SMSO supplied for the cohort. The record is rejected until the MA data and the "
        "SMSO inventory agree.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the EUI-64 and MPxN in the rejected MA record with your asset records for "
                "the installation.",
            ),
            _inv(
                "USER",
                "Ask your SMSO to confirm which devices it holds for the MPxN and whether the "
                "device was exchanged or decommissioned.",
            ),
            _cor(
                "SMSO",
                "Add the device to the SMSO inventory supplied to DCC if it is installed but "
                "missing from that inventory.",
            ),
            _cor(
                "USER",
                "Resubmit the installation in a new MA file with device identifiers that match the "
                "SMSO inventory.",
            ),
        ],
    },
    {
        "code": "MR004",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Installation in wrong cohort",
        "description": "The installation was submitted in an MA file for a cohort that does not match its "
        "SMSO or device model combination. DCC detects this at record-level validation by deriving the "
        "cohort from the SMSO and DMC in the record. The record is rejected because each cohort is migrated "
        "with its own process and S1SP configuration.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check which SMSO operates the installation and which cohort that SMSO and the DMC "
                "belong to.",
            ),
            _inv(
                "USER",
                "Check that your MA file generation job routes each installation to the MA file of "
                "its cohort.",
            ),
            _cor("USER", "Resubmit the installation in an MA file for the correct cohort."),
        ],
    },
    {
        "code": "MR005",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Over daily migration allocation",
        "description": "The record would take the User beyond its daily migration allocation for the "
        "requested date under the Migration Scaling Methodology. DCC detects this at record-level "
        "validation by counting accepted records per User per migration date. The installation itself has "
        "no fault and can be resubmitted for a date with spare allocation.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.1",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check your daily allocation for the requested migration date and the number of "
                "records already accepted for that date.",
            ),
            _inv(
                "USER",
                "Check in the DCC acknowledgement which records were accepted and which were "
                "rejected as over allocation.",
            ),
            _cor(
                "USER",
                "Resubmit the rejected records in a new MA file for a migration date with spare allocation.",
            ),
        ],
    },
    {
        "code": "MR006",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "MPAN or MPRN invalid",
        "description": "The MPxN in the MA record is not well formed: an MPAN core that is not 13 digits or "
        "fails its check digit, or an MPRN that is not 6 to 10 digits. DCC detects this at record-level "
        "validation before any device check. The record is rejected because the installation cannot be "
        "matched to a supply point.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check the length and check digit of the rejected MPAN core, or the length of the "
                "MPRN, in the MA record.",
            ),
            _inv(
                "USER",
                "Compare the value with the MPxN in your registration data to find whether the "
                "source data or the MA file generation is wrong.",
            ),
            _cor("USER", "Resubmit the record with the correct MPAN or MPRN in a new MA file."),
        ],
    },
    {
        "code": "MR007",
        "stage": "MA_RECORD_VALIDATION",
        "category": "MA_RECORD_REJECTED",
        "title": "Installation already migrated",
        "description": "The MPxN or one of its devices is already commissioned in the Smart Metering "
        "Inventory (SMI) as migrated to DCC. DCC detects this at record-level validation by looking up the "
        "SMI. The record is rejected so that the installation is not migrated twice.",
        "acting_party": "USER",
        "retryable": False,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.1",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Look up the MPxN and device EUI-64s in the SMI to confirm their SMI status and "
                "commissioning date.",
            ),
            _inv(
                "USER",
                "Check your records for why the installation was included in an MA file after it "
                "had migrated.",
            ),
            _cor(
                "USER",
                "Remove the installation from your migration pipeline and close the case with the "
                "SMI lookup attached as evidence.",
            ),
        ],
    },
    # ------------------------------------------------------------------ pre-migration
    {
        "code": "PM001",
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "title": "No WAN communications before migration",
        "description": "The SMSO could not reach the CH over the WAN to do the pre-migration firmware "
        "upgrade and configuration. The SMSO reports it when the pre-migration work for the scheduled slot "
        "fails for lack of communications. The migration attempt fails and the installation is rescheduled; "
        "exclusion for no WAN before migration is proposed only after repeated failed attempts, never on "
        "the first.",
        "acting_party": "SMSO",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 10,
        "steps": [
            _inv(
                "SMSO",
                "Check the last successful WAN communication with the CHF and the failed "
                "pre-migration attempts in the SMSO logs.",
            ),
            _cor(
                "SMSO",
                "Retry the firmware upgrade and configuration over the WAN and report the outcome "
                "to DCC with the SMSO log extract attached as evidence.",
            ),
            _inv(
                "USER",
                "Check your records for the premises for a change of tenancy, a reported power loss "
                "or a CH exchange that explains the loss of WAN.",
            ),
            _cor(
                "USER",
                "Book a site visit to check power and signal at the CH, replace it if faulty and "
                "request a migration retry with the visit report attached.",
            ),
            _cor(
                "DCC",
                "Reschedule the installation into the next migration slot with allocation once WAN "
                "communications are confirmed restored.",
            ),
        ],
    },
    {
        "code": "PM002",
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "title": "Firmware not eligible or upgrade failed",
        "description": "The firmware on a device is not an EPCL-listed version for its DMC, and the "
        "pre-migration firmware upgrade did not bring it to one. The SMSO reports the upgrade failure, or "
        "DCC finds the ineligible version when it checks the pre-migration status. The installation cannot "
        "be migrated on that firmware.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check the firmware version the SMSO reports for each device against the EPCL "
                "versions for the installation's DMC.",
            ),
            _inv(
                "SMSO",
                "Check the firmware upgrade log for the device, including image download, "
                "activation and the failure code returned.",
            ),
            _cor(
                "SMSO",
                "Reschedule the firmware upgrade to an EPCL-listed version and confirm the running "
                "version to the User once it activates.",
            ),
            _cor(
                "USER",
                "Request a migration retry with the SMSO confirmation of the upgraded firmware "
                "version attached as evidence.",
            ),
        ],
    },
    {
        "code": "PM003",
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "title": "SMSO not ready for migration",
        "description": "The SMSO had not completed its pre-migration readiness for the installation by the "
        "scheduled slot: configuration not applied, key material not prepared or handover not confirmed to "
        "DCC. DCC detects it when the S1SP requests pre-migration status from the SMSO and gets no ready "
        "confirmation. The migration attempt is not started and the installation is rescheduled.",
        "acting_party": "SMSO",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "SMSO",
                "Check the pre-migration task status for the installation in the SMSO systems and "
                "find which task is incomplete.",
            ),
            _cor(
                "SMSO",
                "Complete the outstanding pre-migration task and send DCC the ready confirmation "
                "for the installation.",
            ),
            _inv(
                "DCC",
                "Check in MCC that the ready confirmation was received and the installation is "
                "released for scheduling.",
            ),
            _cor(
                "DCC",
                "Reschedule the installation into the next migration slot with allocation and notify "
                "the User of the new date.",
            ),
        ],
    },
    {
        "code": "PM004",
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "title": "Dormant installation firmware upgrade failed",
        "description": "A dormant installation failed the DCC-scheduled pre-migration firmware upgrade, "
        "usually because the CH could not be reached over the WAN. DCC drives dormant schedules itself, so "
        "the case is raised against DCC rather than the supplier. DCC retries within the dormant retry "
        "policy and notifies the Responsible Supplier of each new schedule.",
        "acting_party": "DCC",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "2.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the SMSO firmware upgrade log and the last WAN contact with the CHF for the "
                "dormant installation.",
            ),
            _inv(
                "SMSO", "Confirm to DCC whether the CH has answered any WAN request since the failed upgrade."
            ),
            _cor(
                "DCC",
                "Reschedule the firmware upgrade within the dormant retry policy and notify the "
                "Responsible Supplier of the new firmware and migration schedules.",
            ),
            _cor(
                "DCC",
                "Ask the Responsible Supplier to state whether the meter can be migrated once the "
                "dormant retry policy is exhausted.",
            ),
        ],
    },
    {
        "code": "PM005",
        "stage": "PRE_MIGRATION",
        "category": "PRE_MIGRATION",
        "title": "Supplier declared installation unmigratable",
        "description": "The Responsible Supplier has stated that the installation cannot be migrated, "
        "typically a dormant installation whose retry policy is exhausted. DCC records the statement "
        "against the installation and stops pursuing migration. The case goes straight to exclusion "
        "proposed.",
        "acting_party": "USER",
        "retryable": False,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "2.1",
        "retired_in": None,
        "exclusion_category": "SUPPLIER_DECLARED_UNMIGRATABLE",
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check your records for the installation and confirm that no firmware upgrade or "
                "site visit can make its devices migratable.",
            ),
            _cor(
                "USER",
                "Send DCC a signed statement that the installation cannot be migrated, giving the "
                "MPxN and the reason.",
            ),
            _inv(
                "DCC",
                "Check that the statement matches the installation and that any dormant retry "
                "history is attached to the case.",
            ),
            _cor(
                "DCC",
                "Propose the installation for exclusion and notify the Responsible Supplier of the "
                "exclusion reference.",
            ),
        ],
    },
    # ------------------------------------------------------------------ communications
    {
        "code": "CM001",
        "stage": "COMMUNICATIONS",
        "category": "COMMUNICATIONS",
        "title": "CH session not established",
        "description": "The S1SP could not establish a session with the CH in the migration window because "
        "every session attempt timed out after its wake SMS. The retry engine raises it when the session "
        "attempts allowed per window are exhausted and records it as a no WAN communications during "
        "migration failure. The installation is rescheduled, and exclusion is proposed only after the "
        "permitted number of failed migration attempts.",
        "acting_party": "DCC",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the session attempt log for the window: wake SMS sent and delivered, connect "
                "timeout and result of each attempt.",
            ),
            _inv(
                "DCC",
                "Check the CH last-heard time with the SMSO and whether a known network outage or "
                "incident covers the area.",
            ),
            _cor(
                "DCC",
                "Reschedule the installation into the next working day with allocation and record "
                "the migration attempt number on the case.",
            ),
            _inv(
                "USER",
                "Check your records for power loss, a CH exchange or access problems at the "
                "premises when two windows in a row have failed.",
            ),
            _cor(
                "USER",
                "Book a site visit to check CH power and signal and request a migration retry with "
                "the visit report attached.",
            ),
        ],
    },
    {
        "code": "CM002",
        "stage": "COMMUNICATIONS",
        "category": "COMMUNICATIONS",
        "title": "CH session timed out",
        "description": "A session with the CH was established but dropped or timed out before the migration "
        "steps finished. The S1SP detects it when a command in the session gets no response within the "
        "session timeout. A failure before the credentials switch rolls the installation back to the SMSO, "
        "so it can be retried in a later slot.",
        "acting_party": "DCC",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the S1SP session log for the last command that completed and the step at "
                "which the session timed out.",
            ),
            _inv(
                "DCC",
                "Confirm whether the credentials switch had started and, if it had, that the "
                "rollback to the SMSO completed.",
            ),
            _cor(
                "DCC",
                "Reschedule the migration into the next slot with allocation and record the failed "
                "step on the case.",
            ),
            _inv(
                "USER",
                "Check your records for known weak signal or intermittent power at the premises "
                "when the same installation times out again.",
            ),
        ],
    },
    {
        "code": "CM003",
        "stage": "COMMUNICATIONS",
        "category": "COMMUNICATIONS",
        "title": "Wake SMS not delivered",
        "description": "The wake SMS sent to the CH was not delivered, so no session could be attempted. The "
        "S1SP detects it from SMS delivery receipts reporting an unknown or barred number or a deactivated "
        "SIM. The installation is rescheduled once the CH SIM and number are confirmed valid.",
        "acting_party": "DCC",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.1",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv("DCC", "Check the SMS delivery receipts for the wake SMS and the MSISDN they were sent to."),
            _inv("DCC", "Compare the MSISDN used with the CH communications details supplied by the SMSO."),
            _cor(
                "SMSO",
                "Reactivate the CH SIM or correct the MSISDN held for the CH and confirm the change to DCC.",
            ),
            _cor(
                "DCC",
                "Reschedule the installation into the next slot with allocation once the SIM is "
                "confirmed active.",
            ),
        ],
    },
    # ------------------------------------------------------------------ data validation
    {
        "code": "DV001",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "Device model mismatch with MA data",
        "description": "A device reported a model different from the model recorded for it in the MA data. "
        "The S1SP detects it during data validation by reading the model from each device and comparing it "
        "with the MA record. The migration stops before the credentials switch and the installation stays "
        "with the SMSO until the MA data is corrected.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the model read back from the device, shown in the case evidence, with the "
                "model in the MA record and in your asset records.",
            ),
            _inv(
                "USER",
                "Check with your SMSO whether the device was exchanged after the MA file was generated.",
            ),
            _cor(
                "USER",
                "Correct the device model in your asset records and resubmit the installation in a "
                "new MA file.",
            ),
        ],
    },
    {
        "code": "DV002",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "Firmware version mismatch with MA data",
        "description": "A device reported a firmware version different from the version in the MA data. The "
        "S1SP detects it during data validation by comparing the version read back from the device with the "
        "MA record. The installation is rolled back to the SMSO until the MA data or the device firmware is "
        "corrected.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the firmware version read back from the device with the version in the MA record.",
            ),
            _inv(
                "USER",
                "Check with the SMSO whether a firmware upgrade ran on the device after the MA file "
                "was generated.",
            ),
            _cor(
                "USER",
                "Resubmit the installation with the firmware version the device reports when that "
                "version is on the EPCL for its DMC.",
            ),
            _cor(
                "USER",
                "Arrange a firmware upgrade through the SMSO to an EPCL-listed version when the "
                "reported version is not eligible, then request a migration retry.",
            ),
        ],
    },
    {
        "code": "DV003",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "Device ID (EUI-64) mismatch",
        "description": "A device at the installation reported an EUI-64 different from the one in the MA "
        "record. The S1SP detects it during data validation when the identifiers read over the HAN do not "
        "match the MA data. The migration stops and the installation stays with the SMSO because DCC cannot "
        "be sure it is taking over the right devices.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the EUI-64 read back from each device with the MA record and your asset records.",
            ),
            _inv(
                "USER",
                "Check with the SMSO whether a device was replaced at the premises and which EUI-64 "
                "it now holds.",
            ),
            _cor(
                "USER",
                "Book a site visit to read the EUI-64 from the device labels when your records and "
                "the SMSO still disagree.",
            ),
            _cor(
                "USER",
                "Correct the EUI-64 in your asset records and resubmit the installation in a new MA file.",
            ),
        ],
    },
    {
        "code": "DV004",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "MPxN link mismatch",
        "description": "The devices are linked to a different MPAN or MPRN from the one in the MA record, or "
        "the ESME and GSME are linked to supply points at different premises. The S1SP detects it during "
        "data validation by comparing the MPxN held by the devices and the SMSO with the MA data. The "
        "installation stays with the SMSO until the link is corrected.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the MPAN and MPRN held by the devices with the MA record and your "
                "registration data.",
            ),
            _inv(
                "USER",
                "Check whether the premises has had split or merged supply points or a change of "
                "supply that changed the MPxN.",
            ),
            _cor(
                "SMSO",
                "Correct the MPxN held against the devices in the SMSO systems where the SMSO data is wrong.",
            ),
            _cor("USER", "Resubmit the installation with the correct MPxN link in a new MA file."),
        ],
    },
    {
        "code": "DV005",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "Firmware build variant mismatch",
        "description": "A device reported a firmware build string whose manufacturer variant suffix differed "
        "from the MA data, even when the firmware version itself matched. The S1SP detected it during data "
        "validation by comparing the full build string. Retired in MEHR 2.0 because the EPCL lists eligible "
        "versions only, so the check blocked eligible installations; DV002 still catches real version "
        "mismatches.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": ["IOC", "MOC_MDS", "MOC_SECURE"],
        "introduced_in": "1.0",
        "retired_in": "2.0",
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the firmware build string read back from the device with the MA record and "
                "note whether only the variant suffix differs.",
            ),
            _cor("USER", "Resubmit the installation with the build string the device reports."),
            _cor(
                "DCC",
                "Re-evaluate open cases raised only against this check once MEHR 2.0 takes effect "
                "and release their installations for scheduling.",
            ),
        ],
    },
    {
        "code": "DV006",
        "stage": "DATA_VALIDATION",
        "category": "DATA_VALIDATION",
        "title": "Installation status mismatch",
        "description": "The MA record declares the installation Active, Dormant or Mixed differently from "
        "the status the SMSO holds. DCC detects it when reconciling the MA record with the SMSO data, "
        "because dormant installations follow a DCC-driven schedule. The installation is held until the "
        "status is agreed so that it migrates under the right schedule.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "2.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check whether you still use the smart functions of each meter and whether your "
                "SMSO contract for the installation has ended.",
            ),
            _inv(
                "USER",
                "Compare the Active, Dormant or Mixed status in the MA record with the status the "
                "SMSO holds.",
            ),
            _cor(
                "USER",
                "Resubmit the installation with the agreed status in a new MA file, or withdraw it "
                "if it is dormant and DCC schedules it.",
            ),
        ],
    },
    # ------------------------------------------------------------------ credentials and security
    {
        "code": "CR001",
        "stage": "CREDENTIALS",
        "category": "CREDENTIALS_SECURITY",
        "title": "Missing master keys",
        "description": "The master keys needed to take control of the devices from the SMSO were not "
        "provided for the installation. DCC detects it when the key material for the devices is absent at "
        "the credentials stage. DCC stops pursuing migration under the missing master keys Excluded "
        "Category and the case goes straight to exclusion proposed.",
        "acting_party": "USER",
        "retryable": False,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": "MISSING_MASTER_KEYS",
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check your key escrow records for the master keys of each device EUI-64 at the "
                "installation.",
            ),
            _inv(
                "USER",
                "Ask the SMSO whether it holds the master keys and why they were not transferred "
                "for this installation.",
            ),
            _cor(
                "USER",
                "Send DCC evidence of where the master keys are held if you dispute the finding, or "
                "accept the proposed exclusion.",
            ),
            _cor(
                "DCC",
                "Propose the installation for exclusion under the missing master keys category and "
                "record the exclusion reference on the case.",
            ),
        ],
    },
    {
        "code": "CR002",
        "stage": "CREDENTIALS",
        "category": "CREDENTIALS_SECURITY",
        "title": "Key replacement failed",
        "description": "Replacing the SMSO keys with DCC and DCO credentials failed on one or more devices. "
        "The S1SP detects it when a device rejects or does not confirm the key replacement command. The "
        "installation is rolled back to the SMSO and can be retried once the cause is fixed.",
        "acting_party": "SMSO",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "SMSO",
                "Check that the key material the SMSO handed over for each device matches the keys "
                "currently on the device.",
            ),
            _inv(
                "DCO",
                "Check that the DCO authorised the key replacement commands and received the device "
                "responses.",
            ),
            _cor(
                "SMSO",
                "Reissue the correct key material for the affected devices to DCC and confirm the "
                "reissue reference on the case.",
            ),
            _cor(
                "DCC",
                "Confirm the rollback to the SMSO completed and schedule a migration retry once the "
                "reissued key material is received.",
            ),
        ],
    },
    {
        "code": "CR003",
        "stage": "CREDENTIALS",
        "category": "CREDENTIALS_SECURITY",
        "title": "DCO authorisation refused",
        "description": "The DCO refused to authorise a migration command, so the S1SP could not send it to "
        "the device. The DCO independent check found that the command did not match the expected migration "
        "for the installation or exceeded an anomaly threshold. The installation is rolled back to the SMSO "
        "until the refusal is resolved.",
        "acting_party": "DCO",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCO",
                "Check the refusal record for the command, the installation and the rule that refused it.",
            ),
            _inv(
                "DCC",
                "Compare the refused command with the migration plan for the installation to find "
                "whether the command or the DCO reference data is wrong.",
            ),
            _cor(
                "DCO",
                "Correct the DCO reference data for the installation if it was wrong and confirm the "
                "change to DCC.",
            ),
            _cor("DCC", "Schedule a migration retry once the DCO confirms the command will be authorised."),
        ],
    },
    # ------------------------------------------------------------------ device / HAN
    {
        "code": "GT01",
        "stage": "DEVICE_HAN",
        "category": "DEVICE_HAN",
        "title": "Gas HAN error: migrate electricity only",
        "description": "The GSME could not be reached over the HAN during migration while the ESME and CH "
        "succeeded. The S1SP detects it when the gas meter does not respond through the GPF during device "
        "testing. DCC migrates the electricity meter only and excludes the gas meter until the HAN is "
        "fixed, which usually needs a site visit.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 10,
        "steps": [
            _inv(
                "USER",
                "Check your records for the gas meter and GPF, including recent gas meter exchanges "
                "and reported GSME battery or signal faults.",
            ),
            _inv(
                "USER",
                "Check with the SMSO when the GSME last communicated through the GPF before migration.",
            ),
            _cor(
                "USER",
                "Book a site visit to re-pair or replace the gas meter on the CH HAN and record the "
                "visit outcome on the case.",
            ),
            _cor(
                "USER",
                "Request a migration retry for the gas meter with the site visit report attached "
                "once the HAN join is confirmed.",
            ),
        ],
    },
    {
        "code": "HN001",
        "stage": "DEVICE_HAN",
        "category": "DEVICE_HAN",
        "title": "PPMID join failed",
        "description": "The PPMID did not join the HAN of the migrated installation. The S1SP detects it "
        "during device testing when the PPMID does not respond through the CH. The meters migrate, but a "
        "prepayment customer may be unable to top up or see credit, so the User must arrange a fix promptly.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 10,
        "steps": [
            _inv(
                "USER",
                "Check whether the customer uses a PPMID and whether the MA data recorded it with "
                "the right EUI-64.",
            ),
            _inv("USER", "Ask the customer whether the PPMID is powered and within range of the CH."),
            _cor(
                "USER",
                "Book a site visit to re-pair or replace the PPMID and request a device join retry "
                "with the visit report attached.",
            ),
        ],
    },
    {
        "code": "HN002",
        "stage": "DEVICE_HAN",
        "category": "DEVICE_HAN",
        "title": "IHD join failed",
        "description": "The IHD did not join the HAN of the migrated installation. The S1SP detects it "
        "during device testing when the IHD does not respond through the CH. The meters migrate and the "
        "customer loses only the display, so the case does not block migration.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 10,
        "steps": [
            _inv(
                "USER",
                "Check whether the IHD recorded in the MA data is still at the premises with the "
                "recorded EUI-64.",
            ),
            _inv("USER", "Ask the customer whether the IHD is powered and within range of the CH."),
            _cor(
                "USER",
                "Book a site visit or send a replacement IHD and request a device join retry once "
                "it is installed.",
            ),
        ],
    },
    {
        "code": "HN003",
        "stage": "DEVICE_HAN",
        "category": "DEVICE_HAN",
        "title": "IHD not responding to HAN poll",
        "description": "The IHD did not respond to a HAN poll before the credentials switch. The S1SP raised "
        "it alongside HN002 for the same condition, and it blocked the migration of installations whose "
        "meters were fine. Retired in MEHR 2.0 as a duplicate of HN002, which does not block migration.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": ["IOC", "MOC_MDS", "MOC_SECURE"],
        "introduced_in": "1.0",
        "retired_in": "2.0",
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 10,
        "steps": [
            _inv("USER", "Check whether an HN002 case is also open for the installation."),
            _cor("USER", "Close this case as a duplicate and pursue the IHD fix under HN002."),
            _cor(
                "DCC",
                "Re-evaluate installations blocked only by this check once MEHR 2.0 takes effect and "
                "release them for scheduling.",
            ),
        ],
    },
    # ------------------------------------------------------------------ commissioning
    {
        "code": "SM001",
        "stage": "COMMISSIONING",
        "category": "COMMISSIONING",
        "title": "SMI commissioning update failed",
        "description": "The devices were migrated but the update to the Smart Metering Inventory (SMI) "
        "failed, so the SMI does not show them commissioned. DCC detects it when the commissioning update "
        "is rejected or not confirmed. Users cannot send service requests to the devices until the SMI "
        "records them.",
        "acting_party": "DCC",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the SMI update error for each device: device type, EUI-64, model, SMI status, "
                "MPxN and linked CHF.",
            ),
            _inv(
                "DCC",
                "Compare the rejected values with the data validated during migration to find which "
                "field failed.",
            ),
            _cor(
                "DCC",
                "Correct the commissioning data and rerun the SMI commissioning update for the installation.",
            ),
            _inv("DCC", "Confirm that the SMI shows each device as commissioned and notify the User."),
        ],
    },
    {
        "code": "SM002",
        "stage": "COMMISSIONING",
        "category": "COMMISSIONING",
        "title": "SMI status inconsistent",
        "description": "The SMI status or status history of a migrated device disagrees with the migration "
        "outcome: a device left pending, a history out of order, or a device linked to the wrong CHF. DCC "
        "detects it when reconciling the SMI with the S1SP records after commissioning. Service requests "
        "may be refused or misrouted until the inventory is corrected.",
        "acting_party": "DCC",
        "retryable": False,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Compare the SMI status, status history, MPxN and linked CHF of each device with the "
                "S1SP migration record.",
            ),
            _cor(
                "DCC",
                "Correct the SMI entries through the inventory correction process and record the "
                "before and after values on the case.",
            ),
            _cor(
                "DCC",
                "Notify the User of the correction and ask them to resend any service request "
                "refused in the meantime.",
            ),
        ],
    },
    {
        "code": "SM003",
        "stage": "COMMISSIONING",
        "category": "COMMISSIONING",
        "title": "Responsible Supplier not registered for MPxN",
        "description": "At commissioning the registration data does not show the Requesting Party as the "
        "Responsible Supplier for the MPxN. DCC detects it when the SMI commissioning update checks the "
        "MPxN against registration data. The installation cannot be commissioned to a supplier that does "
        "not hold the supply point.",
        "acting_party": "USER",
        "retryable": True,
        "blocks_migration": True,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.1",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Check the registration data for the MPAN or MPRN and the start date of your registration.",
            ),
            _inv(
                "USER",
                "Check whether a change of supplier for the MPxN is in progress or completed after "
                "the MA file was sent.",
            ),
            _cor(
                "USER",
                "Correct the registration data and request a commissioning retry, or withdraw the "
                "installation if another supplier now holds the MPxN.",
            ),
        ],
    },
    # ------------------------------------------------------------------ post-migration
    {
        "code": "PS001",
        "stage": "POST_MIGRATION",
        "category": "POST_MIGRATION",
        "title": "No response to first service requests",
        "description": "The first service requests sent to the migrated devices got no response, although "
        "migration and commissioning reported success. DCC detects it from service request responses in the "
        "first days after migration or from a User report. The installation is live with DCC, so this is a "
        "live-service problem for the incident route, not a migration retry.",
        "acting_party": "DCC",
        "retryable": False,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 1,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Check the service request log for the installation to confirm which requests were "
                "sent and that none got a response.",
            ),
            _inv("DCC", "Check the CH WAN status and the SMI status of each device since commissioning."),
            _cor(
                "DCC",
                "Raise an incident on the DCC incident route and record the incident reference on the case.",
            ),
            _inv(
                "USER",
                "Attach the service requests sent and responses missing from your systems, with "
                "timestamps, as evidence for the incident.",
            ),
            _cor(
                "DCC",
                "Resolve the incident, confirm service requests now get responses and close the case "
                "with the incident reference.",
            ),
        ],
    },
    {
        "code": "PS002",
        "stage": "POST_MIGRATION",
        "category": "POST_MIGRATION",
        "title": "Installation missing from migration report",
        "description": "An installation that migrated, or whose migration attempt failed, is absent from the "
        "daily migration report sent to the supplier. DCC detects it when reconciling the report with the "
        "S1SP migration records, or when the User reports the gap. The supplier cannot update its records "
        "or act on failures until the report is corrected.",
        "acting_party": "DCC",
        "retryable": False,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.0",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "DCC",
                "Reconcile the daily migration report for the date with the S1SP migration records "
                "and list the missing installations.",
            ),
            _cor(
                "DCC",
                "Reissue the migration report for the date with each missing installation, its "
                "outcome and check code.",
            ),
            _inv(
                "USER",
                "Check that the reissued migration report updates your records for each missing "
                "installation.",
            ),
        ],
    },
    {
        "code": "PS003",
        "stage": "POST_MIGRATION",
        "category": "POST_MIGRATION",
        "title": "Device configuration differs after migration",
        "description": "After migration the tariff, payment mode or credit balance read from the ESME or "
        "GSME differs from the values the supplier held before migration. The User detects it from its "
        "first reads after migration. Customers may be mis-billed or lose credit, so the User checks its "
        "own records before asking DCC to investigate.",
        "acting_party": "USER",
        "retryable": False,
        "blocks_migration": False,
        "cohorts": _all_cohorts(),
        "introduced_in": "1.1",
        "retired_in": None,
        "exclusion_category": None,
        "sla_response_days": 5,
        "sla_resolution_days": 5,
        "steps": [
            _inv(
                "USER",
                "Compare the tariff, payment mode and credit balance read after migration with your "
                "records and the SMSO pre-migration snapshot.",
            ),
            _cor(
                "USER",
                "Send the correct configuration to the device with DCC service requests where your "
                "records are right.",
            ),
            _inv(
                "DCC",
                "Check the S1SP migration record for any configuration step that changed the values "
                "during migration.",
            ),
            _cor(
                "DCC",
                "Raise an incident on the DCC incident route and record the incident reference on "
                "the case when several installations show the same change.",
            ),
        ],
    },
]
