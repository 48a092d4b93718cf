import { type FormEvent, useId } from "react";
import { type Lang, type Text, tr } from "../i18n.ts";

/** The 6-digit code step after an SMS was sent (binding, phone change): one form, one behaviour on both pages. */
export function OtpCodeForm(props: {
  lang: Lang;
  /** what was sent, and how long it is valid */
  sentNote: Text;
  label: Text;
  submitLabel: Text;
  code: string;
  setCode(code: string): void;
  busy: boolean;
  onSubmit(e: FormEvent): void;
}) {
  const { lang } = props;
  const id = useId();
  return (
    <form onSubmit={props.onSubmit} className="stack">
      <p className="note" role="status">
        {tr(lang, props.sentNote)}
      </p>
      <label htmlFor={id}>{tr(lang, props.label)}</label>
      <input
        id={id}
        type="text"
        inputMode="numeric"
        autoComplete="one-time-code"
        pattern="\d{6}"
        maxLength={6}
        required
        value={props.code}
        onChange={(e) => props.setCode(e.target.value.replace(/\D/g, ""))}
      />
      <button type="submit" className="button" disabled={props.busy || props.code.length !== 6}>
        {tr(lang, props.submitLabel)}
      </button>
    </form>
  );
}
