/**
 * Endpoints of the Microsoft 365 clouds. Sources: Microsoft's national cloud deployment tables
 * (Entra ID authority and Graph hosts) and Exchange Online's SMTP AUTH client submission
 * settings (SMTP hosts and the Exchange Online resource of each cloud).
 */
export interface CloudEndpoints {
  /** Entra ID authority host, https only. */
  authorityHost: string;
  smtpHost: string;
  /** App-only token scope for SMTP AUTH: the cloud's Exchange Online resource plus `/.default`. */
  smtpScope: string;
  /** Microsoft Graph host; `sendMail` goes to `{graphHost}/v1.0/users/{mailbox}/sendMail`. */
  graphHost: string;
  /** App-only token scope for Graph: the cloud's Graph resource plus `/.default`. */
  graphScope: string;
}

export const CLOUDS = {
  global: {
    authorityHost: 'https://login.microsoftonline.com',
    smtpHost: 'smtp.office365.com',
    smtpScope: 'https://outlook.office365.com/.default',
    graphHost: 'https://graph.microsoft.com',
    graphScope: 'https://graph.microsoft.com/.default',
  },
  'usgov-gcchigh': {
    authorityHost: 'https://login.microsoftonline.us',
    smtpHost: 'smtp.office365.us',
    smtpScope: 'https://outlook.office365.us/.default',
    graphHost: 'https://graph.microsoft.us',
    graphScope: 'https://graph.microsoft.us/.default',
  },
  'usgov-dod': {
    authorityHost: 'https://login.microsoftonline.us',
    smtpHost: 'smtp.office365.us',
    smtpScope: 'https://outlook.office365.us/.default',
    graphHost: 'https://dod-graph.microsoft.us',
    graphScope: 'https://dod-graph.microsoft.us/.default',
  },
  china: {
    authorityHost: 'https://login.chinacloudapi.cn',
    smtpHost: 'smtp.partner.outlook.cn',
    smtpScope: 'https://partner.outlook.cn/.default',
    graphHost: 'https://microsoftgraph.chinacloudapi.cn',
    graphScope: 'https://microsoftgraph.chinacloudapi.cn/.default',
  },
} as const satisfies Record<string, CloudEndpoints>;

export type CloudName = keyof typeof CLOUDS;
